//! Bulk writes through etcd's JSON gateway (`POST /v3/...` on the client port), for seeding
//! the demo and benchmark data quickly: one `etcdctl` process per key is far too slow for
//! thousands of keys, and xtask must not depend on `etcd-client` (it needs `protoc`, which
//! xtask itself installs).
//!
//! Keys and values are bytes (base64 on the wire), so binary values and non-UTF-8 key names
//! go through unchanged. Plain HTTP/1.0 over a `TcpStream`: the gateway answers with a
//! `Content-Length` and closes the connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

/// Operations per transaction: well under etcd's default limit of 128 ops and 1.5 MiB.
const OPS_PER_TXN: usize = 100;

/// One key to write.
#[derive(Debug, Clone)]
pub struct Put {
    /// The key, as bytes.
    pub key: Vec<u8>,
    /// The value, as bytes.
    pub value: Vec<u8>,
    /// A lease to attach the key to.
    pub lease: Option<i64>,
}

impl Put {
    /// A put of `key` = `value` without a lease.
    pub fn new(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            lease: None,
        }
    }

    /// The same put attached to `lease`.
    pub fn with_lease(mut self, lease: i64) -> Self {
        self.lease = Some(lease);
        self
    }
}

/// A client for one etcd member's JSON gateway.
#[derive(Debug)]
pub struct Gateway {
    host_port: String,
    token: Option<String>,
}

impl Gateway {
    /// A client for `endpoint` (`http://HOST:PORT`), authenticated as `user` when credentials
    /// are given.
    pub fn connect(endpoint: &str, credentials: Option<(&str, &str)>) -> Result<Self> {
        let host_port = endpoint
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("the gateway client speaks plain http only: {endpoint}"))?
            .trim_end_matches('/')
            .to_owned();
        let mut gateway = Self {
            host_port,
            token: None,
        };
        if let Some((name, password)) = credentials {
            let reply = gateway.post(
                "/v3/auth/authenticate",
                &json!({ "name": name, "password": password }),
            )?;
            let token = reply["token"]
                .as_str()
                .ok_or_else(|| anyhow!("no token in the authenticate reply: {reply}"))?;
            gateway.token = Some(token.to_owned());
        }
        Ok(gateway)
    }

    /// Writes every put, [`OPS_PER_TXN`] per transaction.
    pub fn put_all(&self, puts: &[Put]) -> Result<()> {
        for chunk in puts.chunks(OPS_PER_TXN) {
            let ops: Vec<Value> = chunk
                .iter()
                .map(|put| {
                    let mut request = json!({
                        "key": B64.encode(&put.key),
                        "value": B64.encode(&put.value),
                    });
                    if let Some(lease) = put.lease {
                        request["lease"] = json!(lease.to_string());
                    }
                    json!({ "requestPut": request })
                })
                .collect();
            self.post("/v3/kv/txn", &json!({ "success": ops }))?;
        }
        Ok(())
    }

    /// Grants a lease of `ttl_secs` and returns its id.
    pub fn grant_lease(&self, ttl_secs: i64) -> Result<i64> {
        let reply = self.post("/v3/lease/grant", &json!({ "TTL": ttl_secs.to_string() }))?;
        let id = &reply["ID"];
        id.as_str()
            .and_then(|s| s.parse().ok())
            .or_else(|| id.as_i64())
            .ok_or_else(|| anyhow!("no lease id in the grant reply: {reply}"))
    }

    /// Whether `key` exists.
    pub fn exists(&self, key: &[u8]) -> Result<bool> {
        let reply = self.post(
            "/v3/kv/range",
            &json!({ "key": B64.encode(key), "count_only": true }),
        )?;
        // int64 fields arrive as strings; a zero count is omitted entirely.
        Ok(reply["count"].as_str().is_some_and(|c| c != "0"))
    }

    /// POSTs `body` to `path` and returns the JSON reply; a non-200 answer is an error.
    /// Renews `lease` once.
    pub fn keep_alive(&self, lease: i64) -> Result<()> {
        self.post("/v3/lease/keepalive", &json!({ "ID": lease.to_string() }))?;
        Ok(())
    }

    /// The first key under `prefix` in key order, if any.
    pub fn first_key(&self, prefix: &str) -> Result<Option<Vec<u8>>> {
        let mut end = prefix.as_bytes().to_vec();
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        let reply = self.post(
            "/v3/kv/range",
            &json!({
                "key": B64.encode(prefix),
                "range_end": B64.encode(&end),
                "limit": 1,
                "keys_only": true,
            }),
        )?;
        reply["kvs"][0]["key"]
            .as_str()
            .map(|key| B64.decode(key).context("a key that is not base64"))
            .transpose()
    }

    /// Deletes `key`.
    pub fn delete(&self, key: &[u8]) -> Result<()> {
        self.post("/v3/kv/deleterange", &json!({ "key": B64.encode(key) }))?;
        Ok(())
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let body = body.to_string();
        let mut stream = TcpStream::connect(&self.host_port)
            .with_context(|| format!("connecting to etcd at {}", self.host_port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        let auth = self
            .token
            .as_deref()
            .map(|t| format!("Authorization: {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "POST {path} HTTP/1.0\r\nHost: {}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
            self.host_port,
            body.len()
        )?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .with_context(|| format!("reading the reply to {path}"))?;
        let response = String::from_utf8_lossy(&response);
        let (head, reply_body) = response
            .split_once("\r\n\r\n")
            .ok_or_else(|| anyhow!("malformed HTTP reply to {path}: {response}"))?;
        let status_line = head.lines().next().unwrap_or_default();
        if status_line.split_whitespace().nth(1) != Some("200") {
            bail!("etcd answered {path} with {status_line}: {reply_body}");
        }
        serde_json::from_str(reply_body)
            .with_context(|| format!("parsing the reply to {path}: {reply_body}"))
    }
}
