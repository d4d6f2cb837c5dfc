//! Everything fixed when the client is built: the base URL and the origin that gets the token,
//! the login and refresh routes, the credentials, the renewal margin, and how long a login or
//! refresh may take and how long a failed renewal is remembered.

use std::fmt;
use std::time::Duration;

use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme};
use zeroize::Zeroizing;

use super::error::{Error, ErrorKind};

/// How long a login or refresh call may take by default.
pub(crate) const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a failed renewal is handed to new requests before the next attempt, by default.
pub(crate) const DEFAULT_RENEWAL_BACKOFF: Duration = Duration::from_secs(1);

/// The username and password to log in (again) with.
pub(crate) struct Credentials {
    pub(super) username: String,
    pub(super) password: Zeroizing<String>,
}

impl Credentials {
    pub(crate) fn new(username: String, password: String) -> Self {
        Self {
            username,
            password: Zeroizing::new(password),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Where a request goes, as far as the token is concerned.
pub(crate) enum Target {
    /// To the base URL's origin; with the absolute URI to use instead when the request's was a
    /// path.
    Base(Option<Uri>),
    /// Elsewhere: no token.
    Foreign,
    /// Nowhere we can tell.
    Invalid,
}

/// Everything fixed when the client is built.
#[derive(Debug)]
pub(crate) struct Config {
    scheme: Scheme,
    authority: Authority,
    /// The host, lowercase, and the port (explicit or the scheme's default): the origin.
    host: Box<str>,
    port: u16,
    /// The base URL's path without its trailing `/`: `""` or `/prefix`.
    base_path: Box<str>,
    pub(super) login_uri: Uri,
    pub(super) refresh_uri: Uri,
    pub(super) credentials: Option<Credentials>,
    margin_ms: i64,
    /// How long a login or refresh call may take, answer read; `None`: as long as it takes.
    pub(super) auth_timeout: Option<Duration>,
    /// How long a failed renewal is handed to the requests that need one, before another
    /// attempt.
    pub(super) renewal_backoff: Duration,
}

impl Config {
    pub(crate) fn new(
        base: &Uri,
        login_path: &str,
        refresh_path: &str,
        credentials: Option<Credentials>,
        margin: Duration,
    ) -> Result<Self, Error> {
        let invalid = || Error::new(ErrorKind::InvalidConfig);
        let scheme = base.scheme().ok_or_else(invalid)?.clone();
        let port = default_port(&scheme).ok_or_else(invalid)?;
        let authority = base.authority().ok_or_else(invalid)?.clone();
        if base.query().is_some() || !login_path.starts_with('/') || !refresh_path.starts_with('/')
        {
            return Err(invalid());
        }
        let base_path = base.path().trim_end_matches('/');
        let uri = |path: &str| {
            Uri::builder()
                .scheme(scheme.clone())
                .authority(authority.clone())
                .path_and_query(format!("{base_path}{path}"))
                .build()
                .map_err(|_| invalid())
        };
        Ok(Self {
            login_uri: uri(login_path)?,
            refresh_uri: uri(refresh_path)?,
            host: authority.host().to_ascii_lowercase().into(),
            port: authority.port_u16().unwrap_or(port),
            base_path: base_path.into(),
            scheme,
            authority,
            credentials,
            margin_ms: i64::try_from(margin.as_millis()).unwrap_or(i64::MAX),
            auth_timeout: Some(DEFAULT_AUTH_TIMEOUT),
            renewal_backoff: DEFAULT_RENEWAL_BACKOFF,
        })
    }

    /// Whether a request to `uri` gets the token: only when it goes to the base URL's origin
    /// (scheme, host and port), or is a path, which is resolved against the base URL.
    pub(crate) fn target(&self, uri: &Uri) -> Target {
        match (uri.scheme(), uri.authority()) {
            (Some(scheme), Some(authority)) => {
                let same = scheme.as_str().eq_ignore_ascii_case(self.scheme.as_str())
                    && authority.host().eq_ignore_ascii_case(&self.host)
                    && authority.port_u16().or_else(|| default_port(scheme)) == Some(self.port);
                if same {
                    Target::Base(None)
                } else {
                    Target::Foreign
                }
            }
            (None, None) => self
                .resolve(uri)
                .map_or(Target::Invalid, |u| Target::Base(Some(u))),
            // Authority-form (CONNECT): not a request to the API.
            _ => Target::Foreign,
        }
    }

    /// `/api/v3/ping` → `<scheme>://<authority><base path>/api/v3/ping`.
    fn resolve(&self, uri: &Uri) -> Option<Uri> {
        let path_and_query = uri.path_and_query().map_or("/", PathAndQuery::as_str);
        if !path_and_query.starts_with('/') {
            return None;
        }
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(format!("{}{path_and_query}", self.base_path))
            .build()
            .ok()
    }

    /// How long before `exp` an access token is renewed: the configured margin, but at most a
    /// tenth of the token's lifetime, so that a short-lived token is still used.
    pub(super) fn margin_ms(&self, lifetime_ms: Option<i64>) -> i64 {
        lifetime_ms.map_or(self.margin_ms, |lifetime| self.margin_ms.min(lifetime / 10))
    }

    pub(crate) const fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }
}

fn default_port(scheme: &Scheme) -> Option<u16> {
    if *scheme == Scheme::HTTP {
        Some(80)
    } else if *scheme == Scheme::HTTPS {
        Some(443)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: &str) -> Config {
        Config::new(
            &base.parse().unwrap(),
            "/api/login",
            "/api/login/refresh",
            None,
            Duration::from_secs(5),
        )
        .unwrap()
    }

    #[test]
    fn only_the_base_origin_gets_the_token() {
        struct Case {
            uri: &'static str,
            base: bool,
        }
        let config = config("http://Core.example:8080/");
        let cases = [
            Case {
                uri: "http://core.example:8080/api/v3/ping",
                base: true,
            },
            Case {
                uri: "HTTP://CORE.EXAMPLE:8080/x",
                base: true,
            },
            Case {
                uri: "http://user@core.example:8080/x",
                base: true,
            },
            Case {
                uri: "https://core.example:8080/x",
                base: false,
            },
            Case {
                uri: "http://core.example/x",
                base: false,
            },
            Case {
                uri: "http://core.example:8081/x",
                base: false,
            },
            Case {
                uri: "http://core.example.evil:8080/x",
                base: false,
            },
            Case {
                uri: "http://evil.example:8080/x",
                base: false,
            },
            Case {
                uri: "http://core.example:8080@evil.example:8080/x",
                base: false,
            },
        ];
        for case in cases {
            let target = config.target(&case.uri.parse().unwrap());
            let base = matches!(target, Target::Base(None));
            assert_eq!(base, case.base, "{}", case.uri);
        }
        let default_port = config_with_default_port();
        assert!(matches!(
            default_port.target(&"http://core.example:80/x".parse().unwrap()),
            Target::Base(None)
        ));
    }

    fn config_with_default_port() -> Config {
        config("http://core.example")
    }

    #[test]
    fn a_path_is_resolved_against_the_base_url() {
        for (base, uri, expected) in [
            (
                "http://core.example:8080",
                "/api/v3/ping?x=1",
                "http://core.example:8080/api/v3/ping?x=1",
            ),
            (
                "http://core.example/core/",
                "/api/v3/ping",
                "http://core.example/core/api/v3/ping",
            ),
        ] {
            let Target::Base(Some(resolved)) = config(base).target(&uri.parse().unwrap()) else {
                panic!("{uri} is for the base");
            };
            assert_eq!(resolved, expected);
        }
        assert!(matches!(
            config("http://core.example").target(&"*".parse().unwrap()),
            Target::Invalid
        ));
    }

    #[test]
    fn route_uris_keep_the_base_path() {
        let config = config("https://core.example/core/");
        assert_eq!(config.login_uri, "https://core.example/core/api/login");
        assert_eq!(
            config.refresh_uri,
            "https://core.example/core/api/login/refresh"
        );
    }

    #[test]
    fn unusable_base_urls_are_configuration_errors() {
        for base in ["/api", "ftp://core.example", "http://core.example/?a=b"] {
            let error = Config::new(
                &base.parse().unwrap(),
                "/api/login",
                "/api/login/refresh",
                None,
                Duration::ZERO,
            )
            .unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidConfig, "{base}");
        }
        let error = Config::new(
            &"http://core.example".parse().unwrap(),
            "api/login",
            "/api/login/refresh",
            None,
            Duration::ZERO,
        )
        .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidConfig);
    }

    #[test]
    fn the_margin_is_capped_to_a_tenth_of_the_lifetime() {
        let config = config("http://core.example");
        assert_eq!(config.margin_ms(Some(600_000)), 5_000);
        assert_eq!(config.margin_ms(Some(1_000)), 100);
        assert_eq!(config.margin_ms(None), 5_000);
    }

    #[test]
    fn debug_redacts_the_password() {
        let credentials = Credentials::new("admin".to_owned(), "hunter2hunter2".to_owned());
        let debug = format!("{credentials:?}");
        assert!(debug.contains("admin"));
        assert!(!debug.contains("hunter2"));
    }
}
