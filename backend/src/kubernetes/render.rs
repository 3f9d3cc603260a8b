//! Turns a decoded Kubernetes object into YAML and JSON as `kubectl` would
//! show them (pure).
//!
//! The protobuf types carry no serde support, but every one of them has the
//! `Debug` form prost derives: `Name { field: value, .. }`, `Some(..)`,
//! `None`, quoted strings, numbers, lists and maps. That form is read back
//! into a [`Node`] tree, which keeps field order (`apiVersion` and `kind`
//! first, as Kubernetes writes them), leaves out unset and empty fields (as
//! Kubernetes' `omitempty` does), names fields in camelCase and shows
//! Kubernetes' own scalar types (`Time`, `Quantity`, `IntOrString`) as
//! their JSON strings. Field names are derived from prost's snake_case, so
//! a few acronyms read differently than Kubernetes spells them (`podIp`
//! for `podIP`).

use base64::Engine as _;

/// A value of the object tree, in field order.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    /// A number as written in the `Debug` form.
    Number(String),
    String(String),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// Why a `Debug` form did not read back; a bug of this module, since the
/// form is generated.
#[derive(Debug, thiserror::Error)]
#[error("the decoded object did not render at byte {at}: {what}")]
pub struct RenderError {
    at: usize,
    what: &'static str,
}

/// The object tree of a prost message's `Debug` form.
pub fn from_debug(text: &str) -> Result<Node, RenderError> {
    let mut parser = Parser {
        text: text.as_bytes(),
        at: 0,
    };
    let node = parser.value()?;
    parser.skip_spaces();
    if parser.at != parser.text.len() {
        return Err(parser.fail("text after the object"));
    }
    Ok(node.unwrap_or(Node::Null))
}

/// `object` with `apiVersion` and `kind` in front, as stored objects lack
/// them (the envelope carries them).
pub fn with_type(object: Node, api_version: &str, kind: &str) -> Node {
    let mut fields = vec![
        (
            "apiVersion".to_owned(),
            Node::String(api_version.to_owned()),
        ),
        ("kind".to_owned(), Node::String(kind.to_owned())),
    ];
    if let Node::Map(rest) = object {
        fields.extend(
            rest.into_iter()
                .filter(|(k, _)| k != "apiVersion" && k != "kind"),
        );
    }
    Node::Map(fields)
}

/// Looks up `path` (field names) in a tree of maps.
pub fn get<'a>(node: &'a Node, path: &[&str]) -> Option<&'a Node> {
    let mut node = node;
    for field in path {
        let Node::Map(fields) = node else {
            return None;
        };
        node = &fields.iter().find(|(k, _)| k == field)?.1;
    }
    Some(node)
}

/// Shows byte lists (protobuf `bytes`, which the `Debug` form writes as
/// numbers) of the fields at `path` as base64, as Kubernetes' JSON does:
/// each value of a map (`Secret.data`) or the field itself.
pub fn bytes_as_base64(node: &mut Node, path: &[&str]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = node;
    for field in parents {
        let Node::Map(fields) = at else { return };
        let Some((_, next)) = fields.iter_mut().find(|(k, _)| k == field) else {
            return;
        };
        at = next;
    }
    let Node::Map(fields) = at else { return };
    let Some((_, target)) = fields.iter_mut().find(|(k, _)| k == last) else {
        return;
    };
    match target {
        Node::Map(entries) => {
            for (_, value) in entries.iter_mut() {
                to_base64(value);
            }
        }
        other => to_base64(other),
    }
}

fn to_base64(node: &mut Node) {
    if let Some(bytes) = byte_list(node) {
        *node = Node::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
}

fn byte_list(node: &Node) -> Option<Vec<u8>> {
    let Node::List(items) = node else {
        return None;
    };
    items
        .iter()
        .map(|item| match item {
            Node::Number(n) => n.parse::<u8>().ok(),
            _ => None,
        })
        .collect()
}

/// The tree as YAML (block style; strings quoted whenever plain would be
/// read as something else).
pub fn yaml(node: &Node) -> String {
    let mut out = String::new();
    match node {
        Node::Map(fields) if !fields.is_empty() => yaml_map(fields, 0, &mut out),
        Node::List(items) if !items.is_empty() => yaml_list(items, 0, &mut out),
        scalar => {
            out.push_str(&yaml_scalar(scalar, 0));
            out.push('\n');
        }
    }
    out
}

fn yaml_map(fields: &[(String, Node)], indent: usize, out: &mut String) {
    for (key, value) in fields {
        out.push_str(&" ".repeat(indent));
        out.push_str(&yaml_string(key, indent));
        out.push(':');
        match value {
            // A map's list starts at the map's indent, as kubectl writes it.
            Node::List(items) if !items.is_empty() => {
                out.push('\n');
                yaml_list(items, indent, out);
            }
            other => yaml_child(other, indent + 2, out),
        }
    }
}

fn yaml_list(items: &[Node], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            // A map in a list starts on the dash's line.
            Node::Map(fields) if !fields.is_empty() => {
                let mut inner = String::new();
                yaml_map(fields, indent + 2, &mut inner);
                out.push(' ');
                out.push_str(inner.trim_start());
            }
            other => yaml_child(other, indent + 2, out),
        }
    }
}

/// The value after `key:` or `-`: on the same line for scalars, below for
/// non-empty maps and lists.
fn yaml_child(value: &Node, indent: usize, out: &mut String) {
    match value {
        Node::Map(fields) if !fields.is_empty() => {
            out.push('\n');
            yaml_map(fields, indent, out);
        }
        Node::List(items) if !items.is_empty() => {
            out.push('\n');
            yaml_list(items, indent, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&yaml_scalar(scalar, indent));
            out.push('\n');
        }
    }
}

fn yaml_scalar(node: &Node, indent: usize) -> String {
    match node {
        Node::Null => "null".into(),
        Node::Bool(b) => b.to_string(),
        Node::Number(n) => n.clone(),
        Node::String(s) => yaml_string(s, indent),
        Node::List(_) => "[]".into(),
        Node::Map(_) => "{}".into(),
    }
}

/// A string plain when YAML reads it back as the same string, as a literal
/// block for multi-line text, double-quoted (JSON's escapes, which YAML
/// shares) otherwise.
fn yaml_string(s: &str, indent: usize) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_alphanumeric()
                || matches!(c, '-' | '_' | '.' | '/' | ' ' | '(' | ')' | '=' | '+' | ',')
        })
        && !s.starts_with([' ', '-', '.'])
        && !s.ends_with(' ')
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
        );
    if plain {
        return s.to_owned();
    }
    let block = s.contains('\n')
        && !s.starts_with([' ', '\n'])
        && !s.chars().any(|c| c.is_control() && c != '\n')
        && !s.lines().any(|l| l.ends_with(' '));
    if block {
        let chomp = if s.ends_with('\n') { "|" } else { "|-" };
        let pad = " ".repeat(indent);
        let body: Vec<String> = s
            .trim_end_matches('\n')
            .split('\n')
            .map(|line| {
                if line.is_empty() {
                    String::new()
                } else {
                    format!("{pad}{line}")
                }
            })
            .collect();
        // More than one trailing newline cannot be said with `|`.
        if s.ends_with("\n\n") {
            return json_string(s);
        }
        return format!("{chomp}\n{}", body.join("\n"));
    }
    json_string(s)
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The tree as indented JSON, in field order.
pub fn json(node: &Node) -> String {
    let mut out = String::new();
    json_into(node, 0, &mut out);
    out.push('\n');
    out
}

fn json_into(node: &Node, indent: usize, out: &mut String) {
    match node {
        Node::Null => out.push_str("null"),
        Node::Bool(b) => out.push_str(&b.to_string()),
        Node::Number(n) => out.push_str(n),
        Node::String(s) => out.push_str(&json_string(s)),
        Node::List(items) if items.is_empty() => out.push_str("[]"),
        Node::Map(fields) if fields.is_empty() => out.push_str("{}"),
        Node::List(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&" ".repeat(indent + 2));
                json_into(item, indent + 2, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push(']');
        }
        Node::Map(fields) => {
            out.push_str("{\n");
            for (i, (key, value)) in fields.iter().enumerate() {
                out.push_str(&" ".repeat(indent + 2));
                out.push_str(&json_string(key));
                out.push_str(": ");
                json_into(value, indent + 2, out);
                out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push('}');
        }
    }
}

/// A reader of prost's `Debug` form.
struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn fail(&self, what: &'static str) -> RenderError {
        RenderError { at: self.at, what }
    }

    fn skip_spaces(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_spaces();
        self.text.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), RenderError> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.fail("an unexpected character"))
        }
    }

    /// One value; `None` for an unset field (`None`, an empty list or map,
    /// an empty string), which Kubernetes leaves out.
    fn value(&mut self) -> Result<Option<Node>, RenderError> {
        match self.peek() {
            Some(b'"') => {
                let s = self.string()?;
                Ok((!s.is_empty()).then_some(Node::String(s)))
            }
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                while self.peek() != Some(b']') {
                    items.push(self.value()?.unwrap_or(Node::Null));
                    if self.peek() == Some(b',') {
                        self.at += 1;
                    }
                }
                self.at += 1;
                Ok((!items.is_empty()).then_some(Node::List(items)))
            }
            Some(b'{') => {
                // A map: `{key: value, ..}`.
                self.at += 1;
                let mut entries = Vec::new();
                while self.peek() != Some(b'}') {
                    let key = match self.value()? {
                        Some(Node::String(s)) | Some(Node::Number(s)) => s,
                        Some(Node::Bool(b)) => b.to_string(),
                        _ => String::new(),
                    };
                    self.expect(b':')?;
                    let value = self.value()?.unwrap_or(Node::String(String::new()));
                    entries.push((key, value));
                    if self.peek() == Some(b',') {
                        self.at += 1;
                    }
                }
                self.at += 1;
                Ok((!entries.is_empty()).then_some(Node::Map(entries)))
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => Ok(Some(Node::Number(self.number()))),
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                let name = self.ident();
                match name.as_str() {
                    "None" => Ok(None),
                    "true" => Ok(Some(Node::Bool(true))),
                    "false" => Ok(Some(Node::Bool(false))),
                    "inf" | "NaN" => Ok(Some(Node::String(name))),
                    _ => self.named(name),
                }
            }
            _ => Err(self.fail("no value where one belongs")),
        }
    }

    /// After an identifier: `Some(v)`, a tuple `Name(v)`, a struct
    /// `Name { .. }`, or a unit (an enum variant's name).
    fn named(&mut self, name: String) -> Result<Option<Node>, RenderError> {
        match self.peek() {
            Some(b'(') => {
                self.at += 1;
                let inner = self.value()?;
                while self.peek() == Some(b',') {
                    self.at += 1;
                    if self.peek() == Some(b')') {
                        break;
                    }
                    self.value()?;
                }
                self.expect(b')')?;
                Ok(inner)
            }
            Some(b'{') => {
                self.at += 1;
                let mut fields = Vec::new();
                while self.peek() != Some(b'}') {
                    let field = self.ident();
                    if field.is_empty() {
                        return Err(self.fail("a field without a name"));
                    }
                    self.expect(b':')?;
                    if let Some(value) = self.value()? {
                        fields.push((camel_case(&field), value));
                    }
                    if self.peek() == Some(b',') {
                        self.at += 1;
                    }
                }
                self.at += 1;
                Ok(special(&name, fields))
            }
            _ => Ok(Some(Node::String(name))),
        }
    }

    fn ident(&mut self) -> String {
        self.skip_spaces();
        let start = self.at;
        while self
            .text
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'#')
        {
            self.at += 1;
        }
        let ident = String::from_utf8_lossy(&self.text[start..self.at]);
        ident.trim_start_matches("r#").to_owned()
    }

    fn number(&mut self) -> String {
        let start = self.at;
        while self
            .text
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.'))
        {
            self.at += 1;
        }
        String::from_utf8_lossy(&self.text[start..self.at]).into_owned()
    }

    /// A Rust string literal as `Debug` writes it.
    fn string(&mut self) -> Result<String, RenderError> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.text.get(self.at) else {
                return Err(self.fail("a string that does not end"));
            };
            self.at += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.text.get(self.at) else {
                        return Err(self.fail("a string that does not end"));
                    };
                    self.at += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'0' => out.push(0),
                        b'u' => {
                            self.expect(b'{')?;
                            let start = self.at;
                            while self.text.get(self.at).is_some_and(u8::is_ascii_hexdigit) {
                                self.at += 1;
                            }
                            let hex = String::from_utf8_lossy(&self.text[start..self.at]);
                            let ch = u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.fail("a bad \\u escape"))?;
                            self.expect(b'}')?;
                            let mut buf = [0; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                other => out.push(other),
            }
        }
        String::from_utf8(out).map_err(|_| self.fail("a string that is not UTF-8"))
    }
}

/// Kubernetes' own scalar types, shown as their JSON forms.
fn special(name: &str, fields: Vec<(String, Node)>) -> Option<Node> {
    let field = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    match name {
        "Time" | "MicroTime" => {
            let Some(Node::Number(seconds)) = field("seconds") else {
                return None;
            };
            let seconds = seconds.parse::<i64>().ok()?;
            let nanos = match field("nanos") {
                Some(Node::Number(n)) => n.parse::<u32>().unwrap_or(0),
                _ => 0,
            };
            Some(Node::String(rfc3339(seconds, nanos, name == "MicroTime")))
        }
        "Quantity" | "QuantityValue" => field("string").cloned(),
        "IntOrString" => match (field("type"), field("intVal"), field("strVal")) {
            (Some(Node::Number(t)), _, Some(s)) if t == "1" => Some(s.clone()),
            (_, Some(i), _) => Some(i.clone()),
            _ => Some(Node::Number("0".into())),
        },
        "RawExtension" => {
            let bytes = byte_list(field("raw")?)?;
            Some(match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(value) => from_json(value),
                Err(_) => Node::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
            })
        }
        _ => (!fields.is_empty()).then_some(Node::Map(fields)),
    }
}

fn from_json(value: serde_json::Value) -> Node {
    match value {
        serde_json::Value::Null => Node::Null,
        serde_json::Value::Bool(b) => Node::Bool(b),
        serde_json::Value::Number(n) => Node::Number(n.to_string()),
        serde_json::Value::String(s) => Node::String(s),
        serde_json::Value::Array(items) => Node::List(items.into_iter().map(from_json).collect()),
        serde_json::Value::Object(map) => {
            Node::Map(map.into_iter().map(|(k, v)| (k, from_json(v))).collect())
        }
    }
}

/// `snake_case` to `camelCase`.
fn camel_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A Unix time as RFC 3339 in UTC (`2024-05-01T12:00:00Z`), with
/// microseconds for a `MicroTime`.
fn rfc3339(seconds: i64, nanos: u32, micro: bool) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let time = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    if micro {
        format!("{time}.{:06}Z", nanos / 1000)
    } else {
        format!("{time}Z")
    }
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_forms_read_back_in_order_without_unset_fields() {
        let text = r#"Thing { name: Some("a \"b\"\n"), count: Some(-3), empty: None, list: [], labels: {"app": "web"}, time: Some(Time { seconds: Some(86400), nanos: Some(0) }), r#type: Some(Up) }"#;
        let node = from_debug(text).expect("reads");
        assert_eq!(
            node,
            Node::Map(vec![
                ("name".into(), Node::String("a \"b\"\n".into())),
                ("count".into(), Node::Number("-3".into())),
                (
                    "labels".into(),
                    Node::Map(vec![("app".into(), Node::String("web".into()))])
                ),
                ("time".into(), Node::String("1970-01-02T00:00:00Z".into())),
                ("type".into(), Node::String("Up".into())),
            ])
        );
    }

    #[test]
    fn yaml_quotes_what_would_read_back_as_something_else() {
        let node = Node::Map(vec![
            ("a".into(), Node::String("plain text".into())),
            ("b".into(), Node::String("true".into())),
            ("c".into(), Node::String("12".into())),
            ("d".into(), Node::String("x: y".into())),
            ("e".into(), Node::String("line1\nline2\n".into())),
            (
                "f".into(),
                Node::List(vec![Node::Map(vec![
                    ("k".into(), Node::Number("1".into())),
                    ("l".into(), Node::Bool(false)),
                ])]),
            ),
        ]);
        assert_eq!(
            yaml(&node),
            "a: plain text\nb: \"true\"\nc: \"12\"\nd: \"x: y\"\ne: |\n  line1\n  line2\nf:\n- k: 1\n  l: false\n"
        );
        assert!(json(&node).starts_with("{\n  \"a\": \"plain text\",\n"));
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(rfc3339(0, 0, false), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_210_096, 0, false), "2024-02-29T12:34:56Z");
        assert_eq!(
            rfc3339(1_709_210_096, 123_456_789, true),
            "2024-02-29T12:34:56.123456Z"
        );
    }
}
