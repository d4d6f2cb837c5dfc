//! `GET /api/login/refresh`: a refresh token in, a new access token out (and, with rotation, a
//! new refresh token in place of the spent one).

use std::sync::Arc;

use http::Method;
use http::request::Parts;

use super::response::{self, OwnResponse};
use super::{Shared, session};
use crate::token::TokenUse;

pub(crate) async fn refresh(shared: Arc<Shared>, request: Parts) -> OwnResponse {
    if request.method != Method::GET {
        return response::method_not_allowed(Method::GET);
    }
    let claims = match shared.authenticate(&request.headers, TokenUse::Refresh) {
        Ok(claims) => claims,
        Err(rejection) => return shared.unauthorized(rejection),
    };
    let tokens = match session::refresh_tokens(&shared, &claims).await {
        Ok(tokens) => tokens,
        Err(response) => return response,
    };
    let rotated = tokens.refresh_token.is_some();
    tracing::debug!(username = %claims.sub(), rotated, "access token refreshed");
    crate::observe::refreshed(rotated);
    response::tokens(&tokens)
}
