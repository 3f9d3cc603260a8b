//! The search page's one request: `GET /api/v1/search`, one page of hits.

use etcdeck_shared::search::{SEARCH_PATH, SearchAnswer, SearchRequest};

use super::{ApiFailure, get_json};

/// `GET /api/v1/search?..`: one page of hits in key order; follow the
/// answer's `next` (with its `revision`) for the following page.
pub async fn search(request: &SearchRequest) -> Result<SearchAnswer, ApiFailure> {
    get_json(format!("{SEARCH_PATH}?{}", request.to_query())).await
}
