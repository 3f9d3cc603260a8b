//! Kubernetes values: decoding a value in the API server's protobuf
//! envelope (`k8s\0`, then a `runtime.Unknown` naming the object's
//! `apiVersion` and `kind`) into the object as YAML and JSON, and gzip
//! streams into what they compressed (pure; `api` reads the key and
//! answers `GET /api/v1/decoded`).
//!
//! The kinds decoded are the ones `k8s-pb` defines (the built-in API at its
//! storage versions); any other kind shows its envelope's type and raw
//! bytes, with a sentence, never an error. The rule that refuses writes
//! under `/registry/` is `etcdeck_shared::kubernetes::write_refusal`, so the
//! browser words it the same way before anyone tries.

mod render;
#[cfg(test)]
mod tests;

use std::io::Read as _;

use etcdeck_shared::Bytes;
use etcdeck_shared::kubernetes::{Content, ENVELOPE_MAGIC, GZIP_MAGIC, Gzipped, KubeObject};
use prost::Message as _;

/// The most bytes a gzip value is decompressed to: a value holds at most
/// etcd's request size (1.5 MiB by default), and a compression ratio above
/// ~20 is a sign of a bomb rather than data.
pub const MAX_DECOMPRESSED: u64 = 32 * 1024 * 1024;

/// What `value` holds: its gzip sizes when it was compressed, and its
/// content.
pub fn decode(value: &[u8]) -> (Option<Gzipped>, Content) {
    if !value.starts_with(GZIP_MAGIC) {
        return (None, content(value, false));
    }
    let mut out = Vec::new();
    let read = flate2::read::MultiGzDecoder::new(value)
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out);
    match read {
        Err(err) => (
            None,
            Content::Plain {
                why: Some(format!(
                    "the value starts like gzip but does not decompress: {err}"
                )),
            },
        ),
        Ok(_) if out.len() as u64 > MAX_DECOMPRESSED => (
            None,
            Content::Plain {
                why: Some(format!(
                    "the value is gzip that decompresses to more than {} MiB; etcdeck shows it as stored",
                    MAX_DECOMPRESSED / (1024 * 1024)
                )),
            },
        ),
        Ok(_) => (
            Some(Gzipped {
                stored: value.len() as u64,
                decompressed: out.len() as u64,
            }),
            content(&out, true),
        ),
    }
}

fn content(bytes: &[u8], decompressed: bool) -> Content {
    match bytes.strip_prefix(ENVELOPE_MAGIC) {
        Some(envelope) => match object(envelope) {
            Ok(object) => Content::Kubernetes(object),
            Err(err) => Content::Plain {
                why: Some(format!(
                    "the value starts like a Kubernetes object, but its envelope does not decode ({err})"
                )),
            },
        },
        None if decompressed => Content::Bytes {
            bytes: Bytes(bytes.to_vec()),
        },
        None => Content::Plain { why: None },
    }
}

/// The object in an envelope (the bytes after the magic).
fn object(envelope: &[u8]) -> Result<KubeObject, prost::DecodeError> {
    let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(envelope)?;
    let type_meta = unknown.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    let mut object = KubeObject {
        api_version: api_version.clone(),
        kind: kind.clone(),
        namespace: None,
        name: None,
        yaml: None,
        json: None,
        raw: None,
        note: None,
    };
    if let Some(encoding) = unknown.content_encoding.filter(|e| !e.is_empty()) {
        object.raw = Some(Bytes(raw));
        object.note = Some(format!(
            "the object is stored with the content encoding {encoding}, which etcdeck does not decode"
        ));
        return Ok(object);
    }
    let Some(decoded) = debug_form(&api_version, &kind, &raw) else {
        object.raw = Some(Bytes(raw));
        object.note = Some(format!(
            "etcdeck does not know the kind {kind} of {api_version}: shown are its type and raw bytes"
        ));
        return Ok(object);
    };
    let rendered = decoded
        .map_err(|err| err.to_string())
        .and_then(|text| render::from_debug(&text).map_err(|err| err.to_string()));
    match rendered {
        Ok(tree) => {
            let mut tree = render::with_type(tree, &api_version, &kind);
            // `bytes` fields the Debug form writes as numbers.
            match kind.as_str() {
                "Secret" => render::bytes_as_base64(&mut tree, &["data"]),
                "ConfigMap" => render::bytes_as_base64(&mut tree, &["binaryData"]),
                "ClusterTrustBundle" | "CertificateSigningRequest" => {
                    render::bytes_as_base64(&mut tree, &["spec", "request"]);
                    render::bytes_as_base64(&mut tree, &["status", "certificate"]);
                }
                _ => {}
            }
            let text = |path: &[&str]| match render::get(&tree, path) {
                Some(render::Node::String(s)) => Some(s.clone()),
                _ => None,
            };
            object.namespace = text(&["metadata", "namespace"]);
            object.name = text(&["metadata", "name"]);
            object.yaml = Some(render::yaml(&tree));
            object.json = Some(render::json(&tree));
        }
        Err(why) => {
            object.raw = Some(Bytes(raw));
            object.note = Some(format!(
                "the object does not decode as {kind} of {api_version} ({why}): shown are its type and raw bytes"
            ));
        }
    }
    Ok(object)
}

/// Decodes `raw` as the `k8s-pb` type of `api_version` and `kind` and
/// writes its `Debug` form, or `None` for a kind `k8s-pb` does not define.
macro_rules! kinds {
    ($($ty:ty,)*) => {
        fn debug_form(
            api_version: &str,
            kind: &str,
            raw: &[u8],
        ) -> Option<Result<String, prost::DecodeError>> {
            use k8s_pb::Resource as _;
            $(
                if api_version == <$ty>::API_VERSION && kind == <$ty>::KIND {
                    return Some(<$ty>::decode(raw).map(|object| format!("{object:?}")));
                }
            )*
            None
        }
    };
}

kinds! {
    k8s_pb::api::admissionregistration::v1::MutatingWebhookConfiguration,
    k8s_pb::api::admissionregistration::v1::ValidatingAdmissionPolicy,
    k8s_pb::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    k8s_pb::api::admissionregistration::v1::ValidatingWebhookConfiguration,
    k8s_pb::api::admissionregistration::v1alpha1::MutatingAdmissionPolicy,
    k8s_pb::api::admissionregistration::v1alpha1::MutatingAdmissionPolicyBinding,
    k8s_pb::api::admissionregistration::v1beta1::MutatingAdmissionPolicy,
    k8s_pb::api::admissionregistration::v1beta1::MutatingAdmissionPolicyBinding,
    k8s_pb::api::apiserverinternal::v1alpha1::StorageVersion,
    k8s_pb::api::apps::v1::ControllerRevision,
    k8s_pb::api::apps::v1::DaemonSet,
    k8s_pb::api::apps::v1::Deployment,
    k8s_pb::api::apps::v1::ReplicaSet,
    k8s_pb::api::apps::v1::StatefulSet,
    k8s_pb::api::autoscaling::v1::HorizontalPodAutoscaler,
    k8s_pb::api::autoscaling::v2::HorizontalPodAutoscaler,
    k8s_pb::api::batch::v1::CronJob,
    k8s_pb::api::batch::v1::Job,
    k8s_pb::api::certificates::v1::CertificateSigningRequest,
    k8s_pb::api::certificates::v1alpha1::ClusterTrustBundle,
    k8s_pb::api::certificates::v1beta1::ClusterTrustBundle,
    k8s_pb::api::certificates::v1beta1::PodCertificateRequest,
    k8s_pb::api::coordination::v1::Lease,
    k8s_pb::api::coordination::v1alpha2::LeaseCandidate,
    k8s_pb::api::coordination::v1beta1::LeaseCandidate,
    k8s_pb::api::core::v1::ComponentStatus,
    k8s_pb::api::core::v1::ConfigMap,
    k8s_pb::api::core::v1::Endpoints,
    k8s_pb::api::core::v1::Event,
    k8s_pb::api::core::v1::LimitRange,
    k8s_pb::api::core::v1::Namespace,
    k8s_pb::api::core::v1::Node,
    k8s_pb::api::core::v1::PersistentVolume,
    k8s_pb::api::core::v1::PersistentVolumeClaim,
    k8s_pb::api::core::v1::Pod,
    k8s_pb::api::core::v1::PodTemplate,
    k8s_pb::api::core::v1::ReplicationController,
    k8s_pb::api::core::v1::ResourceQuota,
    k8s_pb::api::core::v1::Secret,
    k8s_pb::api::core::v1::Service,
    k8s_pb::api::core::v1::ServiceAccount,
    k8s_pb::api::discovery::v1::EndpointSlice,
    k8s_pb::api::events::v1::Event,
    k8s_pb::api::flowcontrol::v1::FlowSchema,
    k8s_pb::api::flowcontrol::v1::PriorityLevelConfiguration,
    k8s_pb::api::networking::v1::IPAddress,
    k8s_pb::api::networking::v1::Ingress,
    k8s_pb::api::networking::v1::IngressClass,
    k8s_pb::api::networking::v1::NetworkPolicy,
    k8s_pb::api::networking::v1::ServiceCIDR,
    k8s_pb::api::networking::v1beta1::IPAddress,
    k8s_pb::api::networking::v1beta1::ServiceCIDR,
    k8s_pb::api::node::v1::RuntimeClass,
    k8s_pb::api::policy::v1::PodDisruptionBudget,
    k8s_pb::api::rbac::v1::ClusterRole,
    k8s_pb::api::rbac::v1::ClusterRoleBinding,
    k8s_pb::api::rbac::v1::Role,
    k8s_pb::api::rbac::v1::RoleBinding,
    k8s_pb::api::resource::v1::DeviceClass,
    k8s_pb::api::resource::v1::ResourceClaim,
    k8s_pb::api::resource::v1::ResourceClaimTemplate,
    k8s_pb::api::resource::v1::ResourceSlice,
    k8s_pb::api::resource::v1alpha3::DeviceTaintRule,
    k8s_pb::api::resource::v1beta1::DeviceClass,
    k8s_pb::api::resource::v1beta1::ResourceClaim,
    k8s_pb::api::resource::v1beta1::ResourceClaimTemplate,
    k8s_pb::api::resource::v1beta1::ResourceSlice,
    k8s_pb::api::resource::v1beta2::DeviceClass,
    k8s_pb::api::resource::v1beta2::ResourceClaim,
    k8s_pb::api::resource::v1beta2::ResourceClaimTemplate,
    k8s_pb::api::resource::v1beta2::ResourceSlice,
    k8s_pb::api::scheduling::v1::PriorityClass,
    k8s_pb::api::scheduling::v1alpha1::Workload,
    k8s_pb::api::storage::v1::CSIDriver,
    k8s_pb::api::storage::v1::CSINode,
    k8s_pb::api::storage::v1::CSIStorageCapacity,
    k8s_pb::api::storage::v1::StorageClass,
    k8s_pb::api::storage::v1::VolumeAttachment,
    k8s_pb::api::storage::v1::VolumeAttributesClass,
    k8s_pb::api::storage::v1beta1::VolumeAttributesClass,
    k8s_pb::api::storagemigration::v1beta1::StorageVersionMigration,
    k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    k8s_pb::kube_aggregator::pkg::apis::apiregistration::v1::APIService,
}
