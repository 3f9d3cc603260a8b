//! `GET /api/v1/cluster`: the cluster view (`crate::cluster`), for any
//! session that may read (wall screens too). It costs etcd nothing: the
//! view is made of what the endpoint prober and the `/metrics` scraper
//! already read, whatever the number of readers.

use axum::Json;
use axum::extract::State;
use etcdeck_shared::cluster::ClusterView;

use super::AppState;
use super::extract::Reader;

/// `GET /api/v1/cluster`.
pub(super) async fn view(State(state): State<AppState>, _reader: Reader) -> Json<ClusterView> {
    Json(state.cluster.view())
}
