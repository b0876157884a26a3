//! Action urls with path parameters (`/user/users/{id}/_updatenovalidate`). DIGIT's
//! `Utils.isRegexUri` treats a url holding `{` and `}` (or, in newer releases, `**`) as a
//! template: each `{name}` becomes `\w+`, `**` becomes `.*`, and the request uri must match
//! the whole of it. `\w+` matches no `.` or `/`, which is why the data lists
//! `/collection-services/payments/PT.MUTATION/_search` separately from the `{moduleName}`
//! form.
//!
//! DIGIT leaves the rest of the url unescaped, so a `.` in a template matches any character;
//! kosh escapes the literal parts, so a template matches only what it spells.

use std::sync::LazyLock;

use regex::Regex;

/// `{name}` or `**`.
static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{[A-Za-z0-9_]+\}|\*\*").expect("the placeholder pattern is valid")
});

/// Java's `\w` is ASCII only; the regex crate's is Unicode.
const WORD: &str = "[A-Za-z0-9_]+";

/// Whether DIGIT treats `url` as a template rather than an exact url.
pub(crate) fn is_template(url: &str) -> bool {
    (url.contains('{') && url.contains('}')) || url.contains("**")
}

/// The anchored regex of a template url. `None` when the url is not a template, or is too
/// large to compile (it is then compared exactly, as DIGIT would fail to match it anyway).
pub(crate) fn compile(url: &str) -> Option<Regex> {
    if !is_template(url) {
        return None;
    }
    let mut pattern = String::from("^");
    let mut last = 0;
    for found in PLACEHOLDER.find_iter(url) {
        pattern.push_str(&regex::escape(&url[last..found.start()]));
        pattern.push_str(if found.as_str() == "**" { ".*" } else { WORD });
        last = found.end();
    }
    pattern.push_str(&regex::escape(&url[last..]));
    pattern.push('$');
    Regex::new(&pattern).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(template: &str, uri: &str) -> bool {
        compile(template).expect("a template").is_match(uri)
    }

    #[test]
    fn parameters_match_one_word() {
        let t = "/collection-services/payments/{moduleName}/_search";
        assert!(matches(t, "/collection-services/payments/PT/_search"));
        assert!(matches(t, "/collection-services/payments/WS_2/_search"));
        // \w+ holds no '.', '/' or '-', and the match is of the whole uri
        assert!(!matches(
            t,
            "/collection-services/payments/PT.MUTATION/_search"
        ));
        assert!(!matches(t, "/collection-services/payments/a/b/_search"));
        assert!(!matches(t, "/collection-services/payments//_search"));
        assert!(!matches(t, "/collection-services/payments/PT/_search/x"));
        assert!(!matches(t, "/x/collection-services/payments/PT/_search"));
        assert!(!matches(t, "/collection-services/payments/PT-1/_search"));
        // ASCII word characters only, as in Java
        assert!(!matches(t, "/collection-services/payments/पीटी/_search"));
    }

    #[test]
    fn literal_parts_are_escaped() {
        let t = "/a.b/{id}/_x";
        assert!(matches(t, "/a.b/7/_x"));
        assert!(!matches(t, "/aXb/7/_x"));
    }

    #[test]
    fn double_asterisk_matches_anything() {
        assert!(matches("/filestore/**", "/filestore/v1/files/id"));
        assert!(!matches("/filestore/**", "/other/v1"));
    }

    #[test]
    fn plain_urls_are_not_templates() {
        assert!(compile("/billing-service/bill/v2/_fetchbill").is_none());
        assert!(is_template("/user/users/{id}/_updatenovalidate"));
        // a brace pair that is not a parameter stays literal
        assert!(matches("/a/{x-y}/b", "/a/{x-y}/b"));
        assert!(!matches("/a/{x-y}/b", "/a/q/b"));
    }
}
