//! Canonical XML 1.0 (inclusive C14N, <https://www.w3.org/TR/2001/REC-xml-c14n-20010315>),
//! for the trees [`crate::dom`] produces.
//!
//! BBPS signs with inclusive C14N 1.0 (the operating units' signers: the one in Java uses
//! `CanonicalizationMethod.INCLUSIVE`, the Go signer `C14N10Rec`). Two document subsets
//! occur in an enveloped signature, and both are implemented here:
//!
//! - the whole document minus one element — the `Signature` (the `enveloped-signature`
//!   transform followed by C14N, for the reference `URI=""`);
//! - one element and its descendants — `SignedInfo` — which, being an apex whose parent is
//!   not in the node-set, carries every namespace in scope and the `xml:*` attributes it
//!   inherits (C14N 1.0 §2.4).
//!
//! What the rules come to for the subset of XML [`crate::dom`] accepts (no DTD, so no
//! default attributes, no entity references left, no attribute types):
//!
//! - no XML declaration; comments only in the with-comments variant; processing
//!   instructions kept; comments/PIs outside the root element separated by `\n`;
//! - `<a/>` becomes `<a></a>`; CDATA sections become escaped text;
//! - namespace declarations first, sorted by prefix (default first), each emitted only where
//!   it differs from what the nearest output ancestor has in scope; `xmlns=""` only to undo
//!   a non-empty default of the output parent;
//! - then attributes sorted by (namespace URI, local name), unqualified first;
//! - text escapes `&` `<` `>` and CR (`&#xD;`); attribute values escape `&` `<` `"` and
//!   TAB, LF, CR (`&#x9;` `&#xA;` `&#xD;`); values use double quotes.
//!
//! The implementation is checked against libxml2 (through `xmlsec1`) by the signature
//! tests, which sign and verify across the two implementations.

use std::collections::BTreeMap;

use crate::dom::{Attr, Document, Element, Node, XML_NS};

/// Namespace bindings in scope: prefix (`""` for the default) → URI.
type Scope = BTreeMap<String, String>;

/// Canonicalizes the whole document, leaving out `exclude` (an element of the document,
/// compared by address) and its descendants. Without `with_comments`, comments are dropped
/// — which is always the case for a same-document reference `URI=""`.
pub fn canonicalize_document(
    doc: &Document,
    exclude: Option<&Element>,
    with_comments: bool,
) -> String {
    let mut out = String::new();
    for node in &doc.before {
        if write_outside(&mut out, node, with_comments) {
            out.push('\n');
        }
    }
    let mut c = Canon {
        out: &mut out,
        exclude,
        with_comments,
    };
    c.element(&doc.root, &Scope::new(), &Scope::new(), &[]);
    for node in &doc.after {
        let mut piece = String::new();
        if write_outside(&mut piece, node, with_comments) {
            out.push('\n');
            out.push_str(&piece);
        }
    }
    out
}

/// Canonicalizes `target` (an element of `doc`, found by address) and its descendants, as
/// the apex of a document subset: it carries the namespaces and `xml:*` attributes it
/// inherits from its ancestors. Returns `None` when `target` is not in `doc`.
pub fn canonicalize_subtree(
    doc: &Document,
    target: &Element,
    with_comments: bool,
) -> Option<String> {
    let path = path_to(&doc.root, target)?;
    // Namespaces in scope at the parent, and xml:* attributes inherited from ancestors.
    let mut scope = Scope::new();
    let mut xml_attrs: BTreeMap<String, Attr> = BTreeMap::new();
    for ancestor in &path[..path.len() - 1] {
        for (p, u) in &ancestor.ns_decls {
            scope.insert(p.clone(), u.clone());
        }
        for a in &ancestor.attrs {
            if a.ns.as_deref() == Some(XML_NS) {
                xml_attrs.insert(a.local.clone(), a.clone());
            }
        }
    }
    let inherited: Vec<Attr> = xml_attrs.into_values().collect();
    let mut out = String::new();
    let mut c = Canon {
        out: &mut out,
        exclude: None,
        with_comments,
    };
    c.element(target, &scope, &Scope::new(), &inherited);
    Some(out)
}

/// The chain of elements from `root` down to `target`, both included.
fn path_to<'a>(root: &'a Element, target: &Element) -> Option<Vec<&'a Element>> {
    if std::ptr::eq(root, target) {
        return Some(vec![root]);
    }
    for child in root.child_elements() {
        if let Some(mut rest) = path_to(child, target) {
            rest.insert(0, root);
            return Some(rest);
        }
    }
    None
}

struct Canon<'o, 'd> {
    out: &'o mut String,
    exclude: Option<&'d Element>,
    with_comments: bool,
}

impl Canon<'_, '_> {
    /// `parent_scope`: namespaces in scope at the parent in the input;
    /// `rendered`: namespaces in scope at the nearest output ancestor in the output;
    /// `inherited_xml`: `xml:*` attributes an apex inherits.
    fn element(
        &mut self,
        el: &Element,
        parent_scope: &Scope,
        rendered: &Scope,
        inherited_xml: &[Attr],
    ) {
        if let Some(ex) = self.exclude
            && std::ptr::eq(el, ex)
        {
            return;
        }
        let mut scope = parent_scope.clone();
        for (p, u) in &el.ns_decls {
            scope.insert(p.clone(), u.clone());
        }

        // Namespace nodes to emit: those whose value differs from the output parent's.
        let mut emitted: Vec<(&str, &str)> = Vec::new();
        for (p, u) in &scope {
            if p == "xml" {
                continue;
            }
            let parent = rendered.get(p).map(String::as_str);
            if p.is_empty() && u.is_empty() {
                // xmlns="" only undoes a non-empty default of the output parent.
                if parent.is_some_and(|v| !v.is_empty()) {
                    emitted.push(("", ""));
                }
                continue;
            }
            if parent != Some(u.as_str()) {
                emitted.push((p, u));
            }
        }
        let mut now_rendered = rendered.clone();
        for (p, u) in &emitted {
            now_rendered.insert((*p).to_string(), (*u).to_string());
        }

        // Attributes: own, plus inherited xml:* ones the element does not override.
        let mut attrs: Vec<&Attr> = el.attrs.iter().collect();
        for a in inherited_xml {
            if !el
                .attrs
                .iter()
                .any(|own| own.ns.as_deref() == Some(XML_NS) && own.local == a.local)
            {
                attrs.push(a);
            }
        }
        attrs.sort_by(|a, b| {
            (a.ns.as_deref().unwrap_or(""), a.local.as_str())
                .cmp(&(b.ns.as_deref().unwrap_or(""), b.local.as_str()))
        });

        let name = el.qname();
        self.out.push('<');
        self.out.push_str(&name);
        for (p, u) in &emitted {
            if p.is_empty() {
                self.out.push_str(" xmlns=\"");
            } else {
                self.out.push_str(" xmlns:");
                self.out.push_str(p);
                self.out.push_str("=\"");
            }
            escape_attr(self.out, u);
            self.out.push('"');
        }
        for a in attrs {
            self.out.push(' ');
            self.out.push_str(&a.qname());
            self.out.push_str("=\"");
            escape_attr(self.out, &a.value);
            self.out.push('"');
        }
        self.out.push('>');
        for child in &el.children {
            match child {
                Node::Element(e) => self.element(e, &scope, &now_rendered, &[]),
                Node::Text(t) => escape_text(self.out, t),
                Node::Comment(c) => {
                    if self.with_comments {
                        write_comment(self.out, c);
                    }
                }
                Node::Pi { target, data } => write_pi(self.out, target, data),
            }
        }
        self.out.push_str("</");
        self.out.push_str(&name);
        self.out.push('>');
    }
}

/// Writes a comment or PI that sits outside the root element; `false` if nothing was
/// written.
fn write_outside(out: &mut String, node: &Node, with_comments: bool) -> bool {
    match node {
        Node::Comment(c) if with_comments => {
            write_comment(out, c);
            true
        }
        Node::Pi { target, data } => {
            write_pi(out, target, data);
            true
        }
        _ => false,
    }
}

fn write_comment(out: &mut String, c: &str) {
    out.push_str("<!--");
    out.push_str(c);
    out.push_str("-->");
}

fn write_pi(out: &mut String, target: &str, data: &str) {
    out.push_str("<?");
    out.push_str(target);
    if !data.is_empty() {
        out.push(' ');
        out.push_str(data);
    }
    out.push_str("?>");
}

fn escape_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dom::parse;

    fn c14n(xml: &str) -> String {
        canonicalize_document(&parse(xml).unwrap(), None, false)
    }

    // Examples in the spirit of C14N 1.0 §3 (written for this crate).
    #[test]
    fn document_rules() {
        assert_eq!(
            c14n(
                "<?xml version=\"1.0\"?>\n<?pi  some data ?>\n<!--c-->\n<a b='2' a=\"1\"><e/><!--x--></a>\n<!--d-->\n<?end?>"
            ),
            "<?pi some data ?>\n<a a=\"1\" b=\"2\"><e></e></a>\n<?end?>"
        );
        assert_eq!(
            c14n(
                "<a x=\"&#9;&#xA;&#xD;&quot;&lt;&gt;&amp;\">&#xD;&gt;&lt;&amp;\"'<![CDATA[<&>]]></a>"
            ),
            "<a x=\"&#x9;&#xA;&#xD;&quot;&lt;>&amp;\">&#xD;&gt;&lt;&amp;\"'&lt;&amp;&gt;</a>"
        );
    }

    #[test]
    fn namespace_rules() {
        // Superfluous declarations vanish, attributes sort by namespace URI then name,
        // xmlns="" appears only to undo a default in scope.
        let xml = "<a xmlns=\"urn:d\" xmlns:z=\"urn:a\" xmlns:b=\"urn:b\"><b:c xmlns:b=\"urn:b\" z:x=\"1\" b:y=\"2\" w=\"3\"/><c xmlns=\"\"><d xmlns=\"\"/></c></a>";
        assert_eq!(
            c14n(xml),
            "<a xmlns=\"urn:d\" xmlns:b=\"urn:b\" xmlns:z=\"urn:a\"><b:c w=\"3\" z:x=\"1\" b:y=\"2\"></b:c><c xmlns=\"\"><d></d></c></a>"
        );
        assert_eq!(c14n("<a xmlns=\"\"><b/></a>"), "<a><b></b></a>");
    }

    #[test]
    fn subtree_carries_inherited_namespaces_and_xml_attributes() {
        let doc = parse(
            "<r:root xmlns:r=\"urn:r\" xml:lang=\"hi\"><S xmlns=\"urn:s\"><I a=\"1\"><M/></I></S></r:root>",
        )
        .unwrap();
        let s = doc.root.child_elements().next().unwrap();
        let i = s.child_elements().next().unwrap();
        assert_eq!(
            canonicalize_subtree(&doc, i, false).unwrap(),
            "<I xmlns=\"urn:s\" xmlns:r=\"urn:r\" a=\"1\" xml:lang=\"hi\"><M></M></I>"
        );
        // Leaving the element out of the whole document.
        assert_eq!(
            canonicalize_document(&doc, Some(s), false),
            "<r:root xmlns:r=\"urn:r\" xml:lang=\"hi\"></r:root>"
        );
    }
}
