//! An OpenAPI 3.1 description of the routes the layer answers itself, with its configured paths:
//! for an application to serve, or to merge into its own document.

use serde_json::{Value, json};

use super::JwtLoginLayer;

impl JwtLoginLayer {
    /// The OpenAPI 3.1 document of the layer's own routes, at the paths it was built with: login
    /// (by password, or by an identity provider's token as bearer), refresh and logout, with
    /// their request and response schemas and every answer they give (datarhei Core's error
    /// shape for each refusal).
    ///
    /// ```
    /// use tower_jwt_login::{JwtLoginLayer, Password};
    ///
    /// let layer = JwtLoginLayer::builder()
    ///     .user("admin", Password::plain("correct horse battery staple"))
    ///     .login_path("/auth/login")
    ///     .build()?;
    /// let document = layer.openapi();
    /// assert_eq!(document["openapi"], "3.1.0");
    /// assert!(document["paths"]["/auth/login"]["post"].is_object());
    /// # Ok::<_, tower_jwt_login::BuildError>(())
    /// ```
    #[must_use]
    pub fn openapi(&self) -> Value {
        let [login, refresh, logout] = self.shared().routes.own();
        let error = |description: &str| {
            json!({
                "description": description,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
            })
        };
        let retry = |description: &str| {
            let mut answer = error(description);
            answer["headers"] =
                json!({ "Retry-After": { "$ref": "#/components/headers/RetryAfter" } });
            answer
        };
        let unauthorized = || {
            let mut answer =
                error("The token is missing, malformed, expired, revoked or of the wrong use.");
            answer["headers"] =
                json!({ "WWW-Authenticate": { "$ref": "#/components/headers/WwwAuthenticate" } });
            answer
        };
        let tokens = |schema: &str, description: &str| {
            json!({
                "description": description,
                "headers": { "Cache-Control": { "schema": { "type": "string", "const": "no-store" } } },
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } },
            })
        };
        let mut paths = serde_json::Map::new();
        paths.insert(login.to_owned(), json!({ "post": {
            "operationId": "login",
            "summary": "Log in: a username and password, or an identity provider's access token as bearer",
            "security": [{}, { "identityProviderToken": [] }],
            "requestBody": {
                "required": false,
                "description": "Field names in any letter case; absent (or both empty) for a login with an identity provider's token.",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Credentials" } } },
            },
            "responses": {
                "200": tokens("Tokens", "An access and a refresh token."),
                "400": error("The body is not a JSON object with a username and a password."),
                "401": error("Wrong username or password, or an identity provider's token that is refused."),
                "405": error("Not POST."),
                "413": error("The body is larger than the login body limit."),
                "415": error("Not application/json."),
                "429": retry("Too many failed logins from this client: retry after Retry-After seconds."),
                "500": error("A token could not be issued: larger than the maximum token size, or custom claims that could not be written."),
                "503": retry("The store or the identity provider is unavailable, or every password check slot is busy."),
            },
        }}));
        paths.insert(refresh.to_owned(), json!({ "get": {
            "operationId": "refresh",
            "summary": "A new access token for a refresh token (with rotation, a new refresh token too)",
            "security": [{ "refreshToken": [] }],
            "responses": {
                "200": tokens("RefreshedTokens", "A new access token; with rotation, the refresh token's successor."),
                "401": unauthorized(),
                "405": error("Not GET."),
                "500": error("A token could not be issued: larger than the maximum token size."),
                "503": retry("The store is unavailable."),
            },
        }}));
        paths.insert(logout.to_owned(), json!({ "post": {
            "operationId": "logout",
            "summary": "Revoke the bearer: an access token, or with a refresh token every token of its login",
            "security": [{ "accessToken": [] }, { "refreshToken": [] }],
            "responses": {
                "204": { "description": "Revoked." },
                "401": unauthorized(),
                "405": error("Not POST."),
                "503": retry("The store is unavailable."),
            },
        }}));
        let token = |description: &str| json!({ "type": "string", "description": description });
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": "JWT login (tower-jwt-login)",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "datarhei Core's login API: HS256 tokens with the claims iss, sub, usefor, iat, exp, exi, jti.",
            },
            "paths": paths,
            "components": {
                "schemas": {
                    "Credentials": {
                        "type": "object",
                        "required": ["username", "password"],
                        "properties": {
                            "username": { "type": "string" },
                            "password": { "type": "string", "format": "password" },
                        },
                    },
                    "Tokens": {
                        "type": "object",
                        "required": ["access_token", "refresh_token"],
                        "properties": {
                            "access_token": token("For protected routes, as Authorization: Bearer."),
                            "refresh_token": token("For the refresh and logout routes only."),
                        },
                    },
                    "RefreshedTokens": {
                        "type": "object",
                        "required": ["access_token"],
                        "properties": {
                            "access_token": token("For protected routes, as Authorization: Bearer."),
                            "refresh_token": token("With rotation only: the spent refresh token's successor."),
                        },
                    },
                    "Error": {
                        "type": "object",
                        "required": ["code", "message", "details"],
                        "properties": {
                            "code": { "type": "integer", "description": "The HTTP status." },
                            "message": { "type": "string" },
                            "details": { "type": "array", "items": { "type": "string" } },
                        },
                    },
                },
                "headers": {
                    "RetryAfter": { "description": "Seconds to wait.", "schema": { "type": "integer", "minimum": 0 } },
                    "WwwAuthenticate": { "description": "A Bearer challenge (RFC 6750).", "schema": { "type": "string" } },
                },
                "securitySchemes": {
                    "accessToken": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "An access token of this layer." },
                    "refreshToken": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "A refresh token of this layer." },
                    "identityProviderToken": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "An access token of a configured identity provider tenant (feature jwks)." },
                },
            },
        })
    }
}
