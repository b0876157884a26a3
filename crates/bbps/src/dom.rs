//! A small namespace-aware XML tree, built on `quick-xml`'s event reader.
//!
//! Validation ([`crate::xml::schema`]), canonicalization ([`crate::c14n`]) and the signature
//! code ([`crate::sig`]) all need the same view of a message: elements with their resolved
//! namespaces, attributes after XML's attribute-value normalization, namespace declarations
//! kept apart from attributes, and character data with references expanded. This module
//! produces that view once.
//!
//! The accepted XML is the subset BBPS messages use, and it is stricter than XML 1.0 in the
//! ways that matter for a signed payment message:
//!
//! - UTF-8 only (an optional byte-order mark is skipped; an XML declaration naming another
//!   encoding is refused);
//! - no document type declaration (`<!DOCTYPE`): no internal subset, no custom entities, no
//!   default attributes — nothing that would make the parsed tree differ from the bytes, and
//!   no entity-expansion attacks;
//! - only the five predefined entities and character references;
//! - every character must be an XML 1.0 `Char`;
//! - nesting deeper than [`MAX_DEPTH`] is refused.
//!
//! Line ends are normalized (`\r\n` and lone `\r` become `\n`) before parsing, as XML 1.0
//! §2.11 requires, and attribute values are normalized as §3.3.3 requires for CDATA
//! attributes (literal tab, newline and carriage return become spaces; references are
//! expanded afterwards, so `&#xA;` stays a newline).

use std::borrow::Cow;
use std::collections::BTreeMap;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// The namespace the `xml` prefix is bound to.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of namespace declarations themselves.
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// Deepest element nesting accepted. BBPS messages nest at most six levels.
pub const MAX_DEPTH: usize = 64;

/// Why a text is not a document this crate accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not well-formed XML: {0}")]
    Malformed(String),
    #[error("a DOCTYPE declaration is not allowed in a BBPS message")]
    Doctype,
    #[error("only UTF-8 is accepted, the XML declaration names encoding {0:?}")]
    Encoding(String),
    #[error("undefined entity &{0}; (only &amp; &lt; &gt; &quot; &apos; and character references)")]
    UndefinedEntity(String),
    #[error("character U+{0:04X} is not allowed in XML")]
    IllegalChar(u32),
    #[error("namespace prefix {0:?} is not declared")]
    UnboundPrefix(String),
    #[error("invalid namespace declaration: {0}")]
    BadNamespaceDecl(String),
    #[error("attribute {0} appears twice on element {1}")]
    DuplicateAttribute(String, String),
    #[error("the document has no root element")]
    NoRoot,
    #[error("content after the root element: {0}")]
    AfterRoot(String),
    #[error("elements nest deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// An attribute (namespace declarations are not attributes here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub prefix: Option<String>,
    pub local: String,
    /// The namespace URI; `None` for an unprefixed attribute.
    pub ns: Option<String>,
    pub value: String,
}

impl Attr {
    /// The name as written (`prefix:local` or `local`).
    pub fn qname(&self) -> String {
        qname(self.prefix.as_deref(), &self.local)
    }
}

/// An element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub prefix: Option<String>,
    pub local: String,
    /// The namespace URI; `None` when the element is in no namespace.
    pub ns: Option<String>,
    /// Namespace declarations written on this element: (prefix, URI), `""` for the default.
    pub ns_decls: Vec<(String, String)>,
    pub attrs: Vec<Attr>,
    pub children: Vec<Node>,
}

/// A child of an element, or a sibling of the root element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
    Comment(String),
    Pi { target: String, data: String },
}

/// A parsed document: the root element and the comments/processing instructions around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub before: Vec<Node>,
    pub root: Element,
    pub after: Vec<Node>,
}

impl Element {
    /// The name as written (`prefix:local` or `local`).
    pub fn qname(&self) -> String {
        qname(self.prefix.as_deref(), &self.local)
    }

    /// `true` when the element has this namespace and local name.
    pub fn is(&self, ns: Option<&str>, local: &str) -> bool {
        self.ns.as_deref() == ns && self.local == local
    }

    /// The value of the unqualified attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.local == name)
            .map(|a| a.value.as_str())
    }

    /// Child elements, in order.
    pub fn child_elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The concatenated character data of the direct text children.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                s.push_str(t);
            }
        }
        s
    }
}

fn qname(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(p) => format!("{p}:{local}"),
        None => local.to_string(),
    }
}

/// `true` for the XML 1.0 `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c as u32,
        0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// `true` for XML whitespace (`S`).
pub fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn malformed(e: impl std::fmt::Display) -> ParseError {
    ParseError::Malformed(e.to_string())
}

fn resolve_reference(name: &str) -> Result<char, ParseError> {
    if let Some(num) = name.strip_prefix('#') {
        let code = if let Some(hex) = num.strip_prefix('x') {
            u32::from_str_radix(hex, 16)
        } else {
            num.parse::<u32>()
        }
        .map_err(|_| malformed(format!("bad character reference &{name};")))?;
        let c = char::from_u32(code).ok_or(ParseError::IllegalChar(code))?;
        if !is_xml_char(c) {
            return Err(ParseError::IllegalChar(code));
        }
        return Ok(c);
    }
    match name {
        "amp" => Ok('&'),
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "quot" => Ok('"'),
        "apos" => Ok('\''),
        other => Err(ParseError::UndefinedEntity(other.to_string())),
    }
}

/// Parses a BBPS message into a [`Document`].
pub fn parse(input: &str) -> Result<Document, ParseError> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    if let Some(c) = input.chars().find(|&c| !is_xml_char(c)) {
        return Err(ParseError::IllegalChar(c as u32));
    }
    let normalized: Cow<'_, str> = if input.contains('\r') {
        Cow::Owned(input.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(input)
    };

    let mut reader = Reader::from_str(&normalized);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;

    // Namespace scopes: one map per open element, plus the implicit `xml` binding.
    let mut scopes: Vec<BTreeMap<String, String>> =
        vec![BTreeMap::from([("xml".to_string(), XML_NS.to_string())])];
    let mut stack: Vec<Element> = Vec::new();
    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut root: Option<Element> = None;
    let mut seen_decl = false;

    loop {
        let event = reader.read_event().map_err(malformed)?;
        match event {
            Event::Decl(decl) => {
                if seen_decl || root.is_some() || !stack.is_empty() || !before.is_empty() {
                    return Err(malformed("misplaced XML declaration"));
                }
                seen_decl = true;
                if let Some(enc) = decl.encoding() {
                    let enc = enc.map_err(malformed)?.into_owned();
                    if !enc.eq_ignore_ascii_case("utf-8") {
                        return Err(ParseError::Encoding(enc));
                    }
                }
                let version = decl.version().map_err(malformed)?;
                if version.as_ref() != "1.0" {
                    return Err(malformed(format!("XML version {version:?} (only 1.0)")));
                }
            }
            Event::DocType(_) => return Err(ParseError::Doctype),
            Event::Start(start) => {
                if root.is_some() {
                    return Err(ParseError::AfterRoot("a second root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ParseError::TooDeep);
                }
                let el = open_element(&start, &mut scopes)?;
                stack.push(el);
            }
            Event::Empty(start) => {
                if root.is_some() {
                    return Err(ParseError::AfterRoot("a second root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ParseError::TooDeep);
                }
                let el = open_element(&start, &mut scopes)?;
                scopes.pop();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(el)),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| malformed("unexpected end tag"))?;
                scopes.pop();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(el)),
                    None => root = Some(el),
                }
            }
            Event::Text(text) => {
                let content = text.xml10_content();
                if content.contains("]]>") {
                    return Err(malformed("\"]]>\" in character data"));
                }
                push_text(&mut stack, root.is_some(), &content)?;
            }
            Event::GeneralRef(r) => {
                let c = resolve_reference(&r.xml10_content())?;
                let mut buf = [0u8; 4];
                push_text(&mut stack, root.is_some(), c.encode_utf8(&mut buf))?;
            }
            Event::CData(cdata) => {
                let content = cdata.xml10_content();
                match stack.last_mut() {
                    Some(parent) => append_text(parent, &content),
                    None => return Err(malformed("CDATA outside the root element")),
                }
            }
            Event::Comment(comment) => {
                let node = Node::Comment(comment.xml10_content().into_owned());
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None if root.is_some() => after.push(node),
                    None => before.push(node),
                }
            }
            Event::PI(pi) => {
                let target = pi.target().to_string();
                if target.eq_ignore_ascii_case("xml") {
                    return Err(malformed("misplaced XML declaration"));
                }
                let data = pi.content().trim_start_matches(is_xml_space).to_string();
                let node = Node::Pi { target, data };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None if root.is_some() => after.push(node),
                    None => before.push(node),
                }
            }
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed("unclosed element at end of input"));
    }
    let root = root.ok_or(ParseError::NoRoot)?;
    Ok(Document {
        before,
        root,
        after,
    })
}

fn push_text(stack: &mut [Element], after_root: bool, content: &str) -> Result<(), ParseError> {
    match stack.last_mut() {
        Some(parent) => {
            append_text(parent, content);
            Ok(())
        }
        None if content.chars().all(is_xml_space) => Ok(()),
        None if after_root => Err(ParseError::AfterRoot(format!("text {content:?}"))),
        None => Err(malformed(format!(
            "text before the root element: {content:?}"
        ))),
    }
}

/// Appends character data, merging with a preceding text node (references and CDATA
/// arrive as separate events but are one text node in the data model).
fn append_text(parent: &mut Element, content: &str) {
    if content.is_empty() {
        return;
    }
    if let Some(Node::Text(t)) = parent.children.last_mut() {
        t.push_str(content);
    } else {
        parent.children.push(Node::Text(content.to_string()));
    }
}

/// The XML `NCName` production, with every non-ASCII character allowed (BBPS names are
/// ASCII; this only keeps out what is plainly not a name).
fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_' || !first.is_ascii())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') || !c.is_ascii())
}

fn split_qname(name: &str) -> Result<(Option<&str>, &str), ParseError> {
    let (prefix, local) = match name.split_once(':') {
        None => (None, name),
        Some((p, l)) => (Some(p), l),
    };
    if prefix.is_some_and(|p| !is_ncname(p)) || !is_ncname(local) {
        return Err(malformed(format!("bad name {name:?}")));
    }
    Ok((prefix, local))
}

fn open_element(
    start: &BytesStart<'_>,
    scopes: &mut Vec<BTreeMap<String, String>>,
) -> Result<Element, ParseError> {
    let raw_name = start.name().as_ref().to_string();
    let mut scope = scopes.last().cloned().unwrap_or_default();
    let mut ns_decls = Vec::new();
    let mut raw_attrs: Vec<(String, String)> = Vec::new();

    for attr in start.attributes().with_checks(true) {
        let attr = attr.map_err(|e| match e {
            quick_xml::events::attributes::AttrError::Duplicated(..) => {
                ParseError::DuplicateAttribute("(an attribute)".into(), raw_name.clone())
            }
            other => malformed(other),
        })?;
        let key = attr.key.as_ref().to_string();
        if attr.value.contains('<') {
            return Err(malformed(format!("'<' in the value of attribute {key}")));
        }
        let value =
            attr.normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| match e {
                    quick_xml::Error::Escape(
                        quick_xml::escape::EscapeError::UnrecognizedEntity(_, name),
                    ) => ParseError::UndefinedEntity(name),
                    other => malformed(other),
                })?
                .into_owned();
        if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
            return Err(ParseError::IllegalChar(c as u32));
        }
        if key == "xmlns" {
            if value == XML_NS || value == XMLNS_NS {
                return Err(ParseError::BadNamespaceDecl(format!(
                    "the default namespace cannot be {value}"
                )));
            }
            ns_decls.push((String::new(), value.clone()));
            scope.insert(String::new(), value);
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            if value.is_empty() {
                return Err(ParseError::BadNamespaceDecl(format!(
                    "prefix {prefix:?} cannot be undeclared in XML 1.0"
                )));
            }
            if prefix == "xmlns" || (prefix == "xml") != (value == XML_NS) || value == XMLNS_NS {
                return Err(ParseError::BadNamespaceDecl(format!(
                    "prefix {prefix:?} cannot be bound to {value}"
                )));
            }
            ns_decls.push((prefix.to_string(), value.clone()));
            scope.insert(prefix.to_string(), value);
        } else {
            raw_attrs.push((key, value));
        }
    }

    let (prefix, local) = split_qname(&raw_name)?;
    let ns = match prefix {
        Some(p) => Some(
            scope
                .get(p)
                .cloned()
                .ok_or_else(|| ParseError::UnboundPrefix(p.to_string()))?,
        ),
        None => scope.get("").filter(|u| !u.is_empty()).cloned(),
    };

    let mut attrs: Vec<Attr> = Vec::with_capacity(raw_attrs.len());
    for (key, value) in raw_attrs {
        let (aprefix, alocal) = split_qname(&key)?;
        let ans = match aprefix {
            Some(p) => Some(
                scope
                    .get(p)
                    .cloned()
                    .ok_or_else(|| ParseError::UnboundPrefix(p.to_string()))?,
            ),
            None => None,
        };
        if attrs
            .iter()
            .any(|a| a.ns.as_deref() == ans.as_deref() && a.local == alocal)
        {
            return Err(ParseError::DuplicateAttribute(
                key.clone(),
                raw_name.clone(),
            ));
        }
        attrs.push(Attr {
            prefix: aprefix.map(str::to_string),
            local: alocal.to_string(),
            ns: ans,
            value,
        });
    }

    scopes.push(scope);
    Ok(Element {
        prefix: prefix.map(str::to_string),
        local: local.to_string(),
        ns,
        ns_decls,
        attrs,
        children: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_namespaces_and_normalizes() {
        let doc = parse(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<p:a xmlns:p=\"urn:p\" x=\"1&#xA;\t2\">\r\n<b y='&amp;&lt;'>t&amp;u<![CDATA[<v>]]></b></p:a>",
        )
        .unwrap();
        assert_eq!(doc.root.ns.as_deref(), Some("urn:p"));
        assert_eq!(doc.root.attr("x"), Some("1\n 2"));
        let b = doc.root.child_elements().next().unwrap();
        assert_eq!(b.ns, None);
        assert_eq!(b.attr("y"), Some("&<"));
        assert_eq!(b.text(), "t&u<v>");
        assert_eq!(doc.root.children[0], Node::Text("\n".into()));
    }

    #[test]
    fn refuses_what_bbps_messages_never_need() {
        assert_eq!(
            parse("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>"),
            Err(ParseError::Doctype)
        );
        assert!(matches!(
            parse("<a>&nbsp;</a>"),
            Err(ParseError::UndefinedEntity(_))
        ));
        assert!(matches!(
            parse("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>"),
            Err(ParseError::Encoding(_))
        ));
        assert!(matches!(parse("<p:a/>"), Err(ParseError::UnboundPrefix(_))));
        assert!(matches!(
            parse("<a x=\"1\" x=\"2\"/>"),
            Err(ParseError::DuplicateAttribute(..))
        ));
        assert!(matches!(
            parse("<a xmlns:p=\"urn:x\" xmlns:q=\"urn:x\" p:x=\"1\" q:x=\"2\"/>"),
            Err(ParseError::DuplicateAttribute(..))
        ));
        assert!(matches!(parse("<a/><b/>"), Err(ParseError::AfterRoot(_))));
        assert!(matches!(
            parse("<a>\u{1}</a>"),
            Err(ParseError::IllegalChar(1))
        ));
        assert!(matches!(
            parse("<a>&#1;</a>"),
            Err(ParseError::IllegalChar(1))
        ));
        for bad in [
            "<a><b></a>",
            "<a x=\"<\"/>",
            "<a>]]></a>",
            "<1a/>",
            "<a:b:c/>",
            "<a 1x=\"1\"/>",
            "<a>a & b</a>",
            "<a x=\"&\"/>",
        ] {
            assert!(matches!(parse(bad), Err(ParseError::Malformed(_))), "{bad}");
        }
        assert!(matches!(parse(""), Err(ParseError::NoRoot)));
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(&deep), Err(ParseError::TooDeep));
    }
}
