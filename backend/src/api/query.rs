//! Query strings whose values are bytes.
//!
//! Keys are bytes, so `prefix`, `key` and `after` are percent-decoded to raw
//! bytes ([`Bytes::from_url`]) instead of through a UTF-8 string as axum's
//! `Query` extractor would.

use std::collections::HashMap;

use etcdeck_shared::Bytes;

use super::Failure;

#[derive(Debug, Default)]
pub struct Query(HashMap<String, Bytes>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Result<Self, Failure> {
        let mut params = HashMap::new();
        for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = Bytes::from_url(name);
            let name = String::from_utf8(name.0)
                .map_err(|_| Failure::BadRequest("a query parameter name is not UTF-8".into()))?;
            if params
                .insert(name.clone(), Bytes::from_url(value))
                .is_some()
            {
                return Err(Failure::BadRequest(format!(
                    "the parameter '{name}' is given twice"
                )));
            }
        }
        Ok(Query(params))
    }

    pub fn bytes(&self, name: &str) -> Option<Bytes> {
        self.0.get(name).cloned()
    }

    pub fn text(&self, name: &str) -> Option<String> {
        self.0
            .get(name)
            .map(|b| String::from_utf8_lossy(b.as_slice()).into_owned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn values_are_bytes() {
        let q = Query::parse(Some("prefix=%2Fapp%2F%FF&limit=5&empty")).unwrap();
        assert_eq!(
            q.bytes("prefix").unwrap(),
            Bytes::new(b"/app/\xff".to_vec())
        );
        assert_eq!(q.text("limit").as_deref(), Some("5"));
        assert_eq!(q.bytes("empty").unwrap(), Bytes::default());
        assert!(Query::parse(Some("a=1&a=2")).is_err());
    }
}
