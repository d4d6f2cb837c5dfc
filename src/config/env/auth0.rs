//! `CORE_API_AUTH_AUTH0_TENANTS`, as datarhei Core's `config/value/auth0.go` reads it.

use base64::Engine as _;
use percent_encoding::percent_decode_str;
use serde::Deserialize;

/// One tenant: datarhei Core's `Auth0Tenant`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub(super) struct Auth0Tenant {
    pub(super) domain: String,
    pub(super) audience: String,
    #[serde(rename = "clientid")]
    pub(super) client_id: String,
    pub(super) users: Vec<String>,
}

/// `auth0://CLIENTID@DOMAIN?aud=AUDIENCE&user=USER1&user=USER2`, or else the standard base64
/// of the tenant's JSON; then datarhei Core's check (`config/config.go`): a domain, an
/// audience and a client id.
pub(super) fn parse(entry: &str) -> Result<Auth0Tenant, String> {
    let tenant = match entry.strip_prefix("auth0://") {
        Some(url) => from_url(url)?,
        None => {
            let json = base64::engine::general_purpose::STANDARD
                .decode(entry)
                .map_err(|e| format!("neither an auth0:// URL nor base64: {e}"))?;
            serde_json::from_slice(&json).map_err(|e| format!("invalid JSON: {e}"))?
        }
    };
    for (value, name) in [
        (&tenant.domain, "domain"),
        (&tenant.audience, "audience (aud)"),
        (&tenant.client_id, "client id"),
    ] {
        if value.is_empty() {
            return Err(format!("the {name} is missing"));
        }
    }
    Ok(tenant)
}

/// The URL after its scheme, read as Go's `url.Parse` does: the authority runs to the
/// first `/`, `?` or `#`, the user to its last `@`; `aud` is the first such query value,
/// the users every `user` value.
fn from_url(url: &str) -> Result<Auth0Tenant, String> {
    let url = url.split_once('#').map_or(url, |(url, _)| url);
    let (before_query, query) = url.split_once('?').unwrap_or((url, ""));
    let authority = before_query.split('/').next().unwrap_or_default();
    let (client_id, domain) = match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(name, _)| name);
            (unescape(user, false)?, host)
        }
        None => (String::new(), authority),
    };
    let mut tenant = Auth0Tenant {
        domain: domain.to_owned(),
        client_id,
        ..Auth0Tenant::default()
    };
    let mut audience = None;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match unescape(key, true)?.as_str() {
            "aud" if audience.is_none() => audience = Some(unescape(value, true)?),
            "user" => tenant.users.push(unescape(value, true)?),
            _ => {}
        }
    }
    tenant.audience = audience.unwrap_or_default();
    Ok(tenant)
}

/// Percent-decoding; in a query, `+` is a space as well.
fn unescape(text: &str, query: bool) -> Result<String, String> {
    let text = if query {
        text.replace('+', " ")
    } else {
        text.to_owned()
    };
    percent_decode_str(&text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| format!("{text:?} is not UTF-8 once percent-decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(domain: &str, client_id: &str, audience: &str, users: &[&str]) -> Auth0Tenant {
        Auth0Tenant {
            domain: domain.to_owned(),
            audience: audience.to_owned(),
            client_id: client_id.to_owned(),
            users: users.iter().map(|u| (*u).to_owned()).collect(),
        }
    }

    /// The cases of datarhei Core's `config/value/auth0_test.go`.
    #[test]
    fn datarheis_own_examples_read_the_same() {
        assert_eq!(
            parse("auth0://clientid@domain?aud=audience&user=user1&user=user2").unwrap(),
            tenant("domain", "clientid", "audience", &["user1", "user2"])
        );
        // No client id: datarhei Core's configuration check refuses it.
        assert!(
            parse("auth0://domain2?aud=audience2&user=user3")
                .unwrap_err()
                .contains("client id")
        );
        // The base64 form (datarhei's test value has no client id either).
        let json = base64::engine::general_purpose::STANDARD.encode(
            r#"{"domain":"datarhei.eu.auth0.com","audience":"https://datarhei.com/core","clientid":"abc","users":["auth0|xxx"]}"#,
        );
        assert_eq!(
            parse(&json).unwrap(),
            tenant(
                "datarhei.eu.auth0.com",
                "abc",
                "https://datarhei.com/core",
                &["auth0|xxx"]
            )
        );
    }

    #[test]
    fn escapes_are_decoded_and_missing_parts_refused() {
        assert_eq!(
            parse("auth0://my%20app@d.example?aud=https%3A%2F%2Fx%2F&user=auth0%7Cxxx&user=a+b")
                .unwrap(),
            tenant("d.example", "my app", "https://x/", &["auth0|xxx", "a b"])
        );
        for (entry, missing) in [
            ("auth0://id@d.example?user=u", "audience"),
            ("auth0://id@?aud=a", "domain"),
            ("not base64!", "neither"),
            ("e30=", "domain"),
        ] {
            let error = parse(entry).unwrap_err();
            assert!(error.contains(missing), "{entry}: {error}");
        }
    }
}
