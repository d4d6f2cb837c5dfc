//! `GET /api/login/refresh`: a refresh token in, a new access token out (and, with rotation, a
//! new refresh token in place of the spent one).

use std::sync::Arc;

use http::Method;
use http::request::Parts;
use serde::Serialize;

use super::Shared;
use super::response::{self, OwnResponse};
use crate::token::TokenUse;

#[derive(Serialize)]
struct RefreshResponse {
    access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

pub(crate) async fn refresh(shared: Arc<Shared>, request: Parts) -> OwnResponse {
    if request.method != Method::GET {
        return response::method_not_allowed(Method::GET);
    }
    let claims = match shared.authenticate(&request.headers, TokenUse::Refresh) {
        Ok(claims) => claims,
        Err(rejection) => return shared.unauthorized(rejection),
    };
    let refresh_token = if shared.rotation {
        match shared.rotate(&claims).await {
            Ok(token) => Some(token),
            Err(response) => return response,
        }
    } else {
        if let Err(response) = shared.check_family(&claims).await {
            return response;
        }
        None
    };
    tracing::debug!(
        username = %claims.sub(),
        rotated = refresh_token.is_some(),
        "access token refreshed"
    );
    crate::observe::refreshed(refresh_token.is_some());
    response::tokens(&RefreshResponse {
        access_token: shared.issue(claims.sub(), TokenUse::Access),
        refresh_token,
    })
}
