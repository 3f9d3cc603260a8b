//! Kubernetes objects stored in etcd: the decoded view of a value
//! (`GET /api/v1/decoded`), the rule that keeps etcdeck from writing under
//! the API server's prefix, and the kind and name a key's path stands for.
//!
//! Decoding happens on the backend (the protobuf types are large); this
//! module holds only the wire types and pure rules both sides need, so the
//! frontend can say "read-only" before anyone tries, with the same sentence
//! the backend refuses with.

use serde::{Deserialize, Serialize};

use crate::api::Revision;
use crate::bytes::Bytes;
use crate::mask::Masked;

/// `GET /api/v1/decoded?key=K&revision=R`.
pub const DECODED_PATH: &str = "/api/v1/decoded";

/// Where the Kubernetes API server keeps its objects (its default
/// `--etcd-prefix`, followed by the separator).
pub const REGISTRY_PREFIX: &[u8] = b"/registry/";

/// The first bytes of a value in Kubernetes' protobuf envelope.
pub const ENVELOPE_MAGIC: &[u8] = b"k8s\0";

/// The first bytes of a gzip stream.
pub const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

/// Whether the backend has something to decode in `value`: a Kubernetes
/// envelope or a gzip stream. The browser asks for the decoded view only then.
pub fn decodable(value: &[u8]) -> bool {
    value.starts_with(ENVELOPE_MAGIC) || value.starts_with(GZIP_MAGIC)
}

/// A key's value as the backend decoded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decoded {
    pub key: Bytes,
    /// The etcd revision the key was read at.
    pub revision: Revision,
    pub mod_revision: Revision,
    /// Set when the stored value was gzip-compressed; `content` is then what
    /// it decompressed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gzip: Option<Gzipped>,
    pub content: Content,
}

/// The sizes of a gzip-compressed value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gzipped {
    /// Bytes stored in etcd.
    pub stored: u64,
    /// Bytes after decompression.
    pub decompressed: u64,
}

/// What a value turned out to hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// A Kubernetes object in the protobuf envelope.
    Kubernetes(KubeObject),
    /// Decompressed bytes that are not a Kubernetes object.
    Bytes { bytes: Bytes },
    /// Nothing to decode: neither an envelope nor gzip (or gzip that did not
    /// decompress, said in `why`).
    Plain {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    /// The key matches a mask pattern: nothing was decoded.
    Masked(Masked),
}

/// One Kubernetes object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeObject {
    /// From the envelope's `TypeMeta`.
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The object as YAML and as JSON, when its kind is one etcdeck decodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yaml: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    /// The envelope's raw object bytes, for a kind etcdeck does not decode
    /// (or whose bytes did not decode as that kind, said in `note`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Bytes>,
    /// Why only the envelope is shown, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Why etcdeck refuses a write that touches the Kubernetes API server's
/// keys, or `None` when it does not. `prefix` says whether the write acts
/// on every key under `key` (a prefix delete, copy or rename) or on the key
/// alone. The backend refuses with this sentence; the browser shows it
/// before the user tries.
///
/// A prefix that covers the whole registry ("/", "/registry") is not
/// refused here: most etcd clusters hold no Kubernetes objects, and the
/// backend refuses such a write only when keys lie under `/registry/`
/// ([`covers_registry`]).
pub fn write_refusal(key: &[u8], prefix: bool) -> Option<String> {
    let _ = prefix;
    key.starts_with(REGISTRY_PREFIX).then(|| REFUSAL.to_owned())
}

/// Whether a write on every key under `prefix` would reach keys under
/// `/registry/` without the prefix lying inside it ("/", "/reg",
/// "/registry").
pub fn covers_registry(prefix: &[u8]) -> bool {
    !prefix.starts_with(REGISTRY_PREFIX) && REGISTRY_PREFIX.starts_with(prefix)
}

/// The sentence of [`write_refusal`].
pub const REFUSAL: &str = "etcdeck does not write under /registry/: these keys hold Kubernetes \
    objects, which only the Kubernetes API server may write (it validates them, keeps their \
    resource versions and caches them; a write behind its back goes unseen or breaks it). \
    Use kubectl instead.";

/// What a key under [`REGISTRY_PREFIX`] stands for, from its path alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyKind {
    /// The kind (`Pod`), or the resource's name in the path when etcdeck
    /// does not know its kind.
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

/// The kind, namespace and name a key's path stands for, as the API server
/// lays its keys out: `/registry/<resource>/<namespace>/<name>`,
/// `/registry/<resource>/<name>` for cluster-scoped kinds, and
/// `/registry/<group>/<resource>/...` for kinds of other groups.
pub fn key_kind(key: &[u8]) -> Option<KeyKind> {
    let rest = key.strip_prefix(REGISTRY_PREFIX)?;
    let rest = std::str::from_utf8(rest).ok()?;
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    // Two-part resources first: `services/specs`, `services/endpoints`,
    // and group-qualified ones (a segment with a dot is an API group).
    let (resource, tail) = if parts.len() >= 3
        && (parts[0].contains('.') || (parts[0] == "services" && parts.len() >= 3))
    {
        (format!("{}/{}", parts[0], parts[1]), &parts[2..])
    } else {
        (parts[0].to_owned(), &parts[1..])
    };
    let kind = kind_of(&resource).map_or_else(
        || resource.rsplit('/').next().unwrap_or(&resource).to_owned(),
        str::to_owned,
    );
    let (namespace, name) = match tail {
        [name] => (None, (*name).to_owned()),
        [namespace, name] => (Some((*namespace).to_owned()), (*name).to_owned()),
        _ => return None,
    };
    Some(KeyKind {
        kind,
        namespace,
        name,
    })
}

/// The kind stored under a resource's path segment, for the built-in kinds.
fn kind_of(resource: &str) -> Option<&'static str> {
    Some(match resource {
        "pods" => "Pod",
        "configmaps" => "ConfigMap",
        "secrets" => "Secret",
        "leases" => "Lease",
        "events" => "Event",
        "namespaces" => "Namespace",
        "minions" => "Node",
        "serviceaccounts" => "ServiceAccount",
        "services/specs" => "Service",
        "services/endpoints" => "Endpoints",
        "endpointslices" => "EndpointSlice",
        "deployments" => "Deployment",
        "replicasets" => "ReplicaSet",
        "daemonsets" => "DaemonSet",
        "statefulsets" => "StatefulSet",
        "controllerrevisions" => "ControllerRevision",
        "jobs" => "Job",
        "cronjobs" => "CronJob",
        "persistentvolumes" => "PersistentVolume",
        "persistentvolumeclaims" => "PersistentVolumeClaim",
        "storageclasses" => "StorageClass",
        "csinodes" => "CSINode",
        "csidrivers" => "CSIDriver",
        "volumeattachments" => "VolumeAttachment",
        "clusterroles" => "ClusterRole",
        "clusterrolebindings" => "ClusterRoleBinding",
        "roles" => "Role",
        "rolebindings" => "RoleBinding",
        "priorityclasses" => "PriorityClass",
        "poddisruptionbudgets" => "PodDisruptionBudget",
        "horizontalpodautoscalers" => "HorizontalPodAutoscaler",
        "ingress" => "Ingress",
        "ingressclasses" => "IngressClass",
        "networkpolicies" => "NetworkPolicy",
        "resourcequotas" => "ResourceQuota",
        "limitranges" => "LimitRange",
        "podtemplates" => "PodTemplate",
        "replicationcontrollers" => "ReplicationController",
        "runtimeclasses" => "RuntimeClass",
        "validatingwebhookconfigurations" => "ValidatingWebhookConfiguration",
        "mutatingwebhookconfigurations" => "MutatingWebhookConfiguration",
        "flowschemas" => "FlowSchema",
        "prioritylevelconfigurations" => "PriorityLevelConfiguration",
        "certificatesigningrequests" => "CertificateSigningRequest",
        "apiregistration.k8s.io/apiservices" => "APIService",
        "apiextensions.k8s.io/customresourcedefinitions" => "CustomResourceDefinition",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_under_the_registry_are_refused_and_others_are_not() {
        assert!(write_refusal(b"/registry/pods/default/web", false).is_some());
        assert!(write_refusal(b"/registry/", true).is_some());
        assert!(write_refusal(b"/registry/pods/", true).is_some());
        // Prefixes that cover the registry are the backend's to judge.
        assert!(write_refusal(b"/reg", true).is_none());
        assert!(covers_registry(b"/reg"));
        assert!(covers_registry(b"/registry"));
        assert!(covers_registry(b"/"));
        assert!(!covers_registry(b"/registry/pods/"));
        assert!(!covers_registry(b"/app/"));
        // The same bytes as one key do not touch the registry.
        assert!(write_refusal(b"/registry", false).is_none());
        assert!(write_refusal(b"/registryx/a", false).is_none());
        assert!(write_refusal(b"/app/config", false).is_none());
        assert!(write_refusal(b"/app/", true).is_none());
    }

    #[test]
    fn key_paths_name_their_kind_namespace_and_name() {
        let pod = key_kind(b"/registry/pods/default/web-0").expect("a pod");
        assert_eq!(pod.kind, "Pod");
        assert_eq!(pod.namespace.as_deref(), Some("default"));
        assert_eq!(pod.name, "web-0");
        let node = key_kind(b"/registry/minions/node-1").expect("a node");
        assert_eq!((node.kind.as_str(), node.namespace), ("Node", None));
        let svc = key_kind(b"/registry/services/specs/default/kubernetes").expect("a service");
        assert_eq!(svc.kind, "Service");
        assert_eq!(svc.name, "kubernetes");
        let crd = key_kind(b"/registry/example.com/widgets/ns/w1").expect("a custom object");
        assert_eq!(crd.kind, "widgets");
        assert_eq!(crd.namespace.as_deref(), Some("ns"));
        assert_eq!(key_kind(b"/registry/pods"), None);
        assert_eq!(key_kind(b"/other/pods/default/web"), None);
        assert!(decodable(b"k8s\0\x0a"));
        assert!(decodable(&[0x1f, 0x8b, 8]));
        assert!(!decodable(b"{}"));
    }
}
