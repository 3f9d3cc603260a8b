//! Service registrations: `<prefix><name>/<instance>` keys whose value is a
//! JSON address, attached to a lease the instance keeps alive (pure logic).

use etcdeck_shared::coord::{Instance, Service};
use etcdeck_shared::{Bytes, LeaseId};

use crate::etcd::RangeKv;

/// Groups the keys read under `prefix` into services, in key order. Keys
/// without an `<instance>` part are not registrations and are left out.
/// `ttl` gives a lease's `(granted, remaining)` seconds.
pub fn services(
    prefix: &[u8],
    kvs: &[RangeKv],
    ttl: impl Fn(i64) -> Option<(i64, Option<i64>)>,
) -> Vec<Service> {
    let mut out: Vec<Service> = Vec::new();
    for kv in kvs {
        let Some(rest) = kv.key.strip_prefix(prefix) else {
            continue;
        };
        let Some(slash) = rest.iter().position(|&b| b == b'/') else {
            continue;
        };
        let (name, instance) = (&rest[..slash], &rest[slash + 1..]);
        if name.is_empty() || instance.is_empty() {
            continue;
        }
        let lease = (kv.lease != 0).then_some(kv.lease);
        let lease_ttl = lease.and_then(&ttl);
        let instance = Instance {
            key: Bytes::from(kv.key.as_slice()),
            name: Bytes::from(instance),
            value: Bytes::from(kv.value.as_slice()),
            address: address(&kv.value),
            lease: lease.map(LeaseId),
            lease_ttl: lease_ttl.and_then(|(_, left)| left),
            granted_ttl: lease_ttl.map(|(granted, _)| granted),
            masked: None,
        };
        match out.last_mut() {
            Some(service) if service.name.0 == name => service.instances.push(instance),
            _ => out.push(Service {
                prefix: Bytes::from(prefix),
                name: Bytes::from(name),
                instances: vec![instance],
            }),
        }
    }
    out
}

/// The address in a registration's JSON value: a field `address`, `addr` or
/// `endpoint` (any case: etcd's own `endpoints` package writes `Addr`), or
/// `host` and `port`.
pub fn address(value: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(value).ok()?;
    let object = json.as_object()?;
    let field = |names: &[&str]| {
        object
            .iter()
            .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
            .map(|(_, v)| v)
    };
    if let Some(text) = field(&["address", "addr", "endpoint"]).and_then(|v| v.as_str()) {
        return Some(text.to_owned());
    }
    let host = field(&["host"])?.as_str()?;
    let port = match field(&["port"])? {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.clone(),
        _ => return None,
    };
    Some(if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &str, lease: i64) -> RangeKv {
        RangeKv {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            lease,
            create_revision: 1,
        }
    }

    #[test]
    fn addresses_from_the_usual_json_shapes() {
        assert_eq!(
            address(br#"{"address":"10.0.0.1:80"}"#).as_deref(),
            Some("10.0.0.1:80")
        );
        assert_eq!(
            address(br#"{"Op":0,"Addr":"a:1","Metadata":null}"#).as_deref(),
            Some("a:1")
        );
        assert_eq!(
            address(br#"{"endpoint":"http://b:2"}"#).as_deref(),
            Some("http://b:2")
        );
        assert_eq!(address(br#"{"host":"c","port":3}"#).as_deref(), Some("c:3"));
        assert_eq!(
            address(br#"{"host":"::1","port":"4"}"#).as_deref(),
            Some("[::1]:4")
        );
        for none in [
            &b"10.0.0.1:80"[..],
            b"{}",
            br#"{"host":"c"}"#,
            br#"[1]"#,
            b"\xff",
            br#"{"addr":5}"#,
        ] {
            assert_eq!(address(none), None);
        }
    }

    #[test]
    fn instances_grouped_by_service() {
        let kvs = [
            kv("services/api/i-1", r#"{"addr":"a:1"}"#, 7),
            kv("services/api/i-2", "not json", 0),
            kv("services/lonely", "{}", 7),
            kv("services/web/eu/1", r#"{"host":"w","port":80}"#, 8),
        ];
        let found = services(b"services/", &kvs, |lease| {
            (lease == 7).then_some((10, Some(9)))
        });
        let names: Vec<_> = found.iter().map(|s| s.name.display()).collect();
        assert_eq!(names, ["api", "web"]);
        let api = &found[0].instances;
        assert_eq!(api.len(), 2);
        assert_eq!(
            (api[0].lease, api[0].granted_ttl, api[0].lease_ttl),
            (Some(LeaseId(7)), Some(10), Some(9))
        );
        assert_eq!(api[0].address.as_deref(), Some("a:1"));
        assert_eq!((api[1].lease, api[1].address.as_ref()), (None, None));
        let web = &found[1].instances[0];
        assert_eq!(
            (web.name.display(), web.address.as_deref()),
            ("eu/1".to_owned(), Some("w:80"))
        );
        assert_eq!(web.lease_ttl, None);
    }
}
