use super::*;
use crate::BuildError;

fn lookup(variables: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    let variables = variables.to_vec();
    move |name| {
        variables
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[test]
fn auth_disabled_is_an_error_and_enabled_is_the_default() {
    for value in ["false", "0", "f", "FALSE"] {
        let error = JwtLoginConfig::from_lookup(lookup(&[
            ("CORE_API_AUTH_ENABLE", value),
            ("CORE_API_AUTH_PASSWORD", "pw"),
        ]))
        .unwrap_err();
        assert_eq!(error, EnvError::AuthDisabled, "{value}");
    }
    for enable in [&[("CORE_API_AUTH_ENABLE", "true")][..], &[]] {
        let mut variables = enable.to_vec();
        variables.push(("CORE_API_AUTH_PASSWORD", "pw"));
        JwtLoginConfig::from_lookup(lookup(&variables))
            .unwrap()
            .build()
            .unwrap();
    }
}

#[test]
fn the_password_is_required() {
    assert_eq!(
        JwtLoginConfig::from_lookup(lookup(&[("CORE_API_AUTH_PASSWORD", "")])).unwrap_err(),
        EnvError::Missing {
            variable: "CORE_API_AUTH_PASSWORD"
        }
    );
}

#[test]
fn a_build_error_names_the_variable() {
    let error = JwtLoginConfig::from_lookup(lookup(&[
        ("CORE_API_AUTH_PASSWORD", "pw"),
        ("CORE_API_AUTH_JWT_SECRET", "short"),
    ]))
    .unwrap()
    .build()
    .unwrap_err();
    assert_eq!(error.field(), Some("CORE_API_AUTH_JWT_SECRET"));
    assert!(matches!(
        error.build_error(),
        BuildError::DatarheiKeyTooShort { .. }
    ));
    let error = JwtLoginConfig::from_lookup(lookup(&[
        ("CORE_API_AUTH_PASSWORD", "pw"),
        ("CORE_API_AUTH_JWT_SECRET", "short"),
        ("CORE_API_AUTH_JWT_SECRET_AS_KEY", "true"),
    ]))
    .unwrap()
    .build()
    .unwrap_err();
    assert_eq!(error.field(), Some("CORE_API_AUTH_JWT_SECRET"));
    assert_eq!(error.build_error(), &BuildError::SecretTooShort { len: 5 });
    let error = JwtLoginConfig::from_lookup(lookup(&[
        ("CORE_API_AUTH_PASSWORD", "pw"),
        ("CORE_API_AUTH_MAX_SESSIONS_PER_USER", "0"),
    ]))
    .unwrap()
    .build()
    .unwrap_err();
    assert_eq!(error.field(), Some("CORE_API_AUTH_MAX_SESSIONS_PER_USER"));
}

#[cfg(not(feature = "jwks"))]
#[test]
fn tenants_without_the_jwks_feature_name_the_feature() {
    for variables in [
        &[("CORE_API_AUTH_AUTH0_ENABLE", "true")][..],
        &[("CORE_API_AUTH_AUTH0_TENANTS", "auth0://id@d?aud=a&user=u")],
    ] {
        let mut variables = variables.to_vec();
        variables.push(("CORE_API_AUTH_PASSWORD", "pw"));
        let error = JwtLoginConfig::from_lookup(lookup(&variables)).unwrap_err();
        assert!(
            matches!(
                error,
                EnvError::FeatureMissing {
                    feature: "jwks",
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("--features jwks"), "{error}");
    }
}

#[cfg(feature = "jwks")]
#[test]
fn tenants_are_read_only_when_auth0_is_enabled() {
    let tenants =
        "auth0://id1@one.example?aud=a1&user=u1&user=u2,auth0://id2@two.example?aud=a2&user=u3";
    let config = JwtLoginConfig::from_lookup(lookup(&[
        ("CORE_API_AUTH_PASSWORD", "pw"),
        ("CORE_API_AUTH_AUTH0_ENABLE", "true"),
        ("CORE_API_AUTH_AUTH0_TENANTS", tenants),
    ]))
    .unwrap();
    let read: Vec<_> = config
        .tenants
        .iter()
        .map(|t| {
            (
                t.issuer.as_str(),
                t.audiences.clone(),
                t.allowed_subjects.clone(),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            (
                "https://one.example/",
                vec!["a1".to_owned()],
                vec!["u1".to_owned(), "u2".to_owned()]
            ),
            (
                "https://two.example/",
                vec!["a2".to_owned()],
                vec!["u3".to_owned()]
            ),
        ]
    );
    // Without CORE_API_AUTH_AUTH0_ENABLE, datarhei Core ignores the tenants.
    let config = JwtLoginConfig::from_lookup(lookup(&[
        ("CORE_API_AUTH_PASSWORD", "pw"),
        ("CORE_API_AUTH_AUTH0_TENANTS", tenants),
    ]))
    .unwrap();
    assert!(config.tenants.is_empty());
    // Enabled without tenants, or with a broken one: an error that names the variable.
    let error = JwtLoginConfig::from_lookup(lookup(&[
        ("CORE_API_AUTH_PASSWORD", "pw"),
        ("CORE_API_AUTH_AUTH0_ENABLE", "true"),
    ]))
    .unwrap_err();
    assert_eq!(
        error,
        EnvError::Missing {
            variable: "CORE_API_AUTH_AUTH0_TENANTS"
        }
    );
    let error = JwtLoginConfig::from_lookup(lookup(&[
        ("CORE_API_AUTH_PASSWORD", "pw"),
        ("CORE_API_AUTH_AUTH0_ENABLE", "true"),
        (
            "CORE_API_AUTH_AUTH0_TENANTS",
            "auth0://id@one.example?aud=a&user=u,auth0://two.example?aud=a",
        ),
    ]))
    .unwrap_err();
    assert!(
        matches!(error, EnvError::InvalidTenant { index: 1, .. }),
        "{error}"
    );
    assert!(
        error.to_string().starts_with("CORE_API_AUTH_AUTH0_TENANTS"),
        "{error}"
    );
}

#[test]
fn the_scopes_variable_gives_the_user_its_scopes() {
    let config = JwtLoginConfig::from_lookup(lookup(&[
        ("CORE_API_AUTH_PASSWORD", "pw"),
        ("CORE_API_AUTH_SCOPES", " streams:write  streams:read "),
    ]))
    .unwrap();
    let scopes = config.users[0].scopes.clone().map(ScopeList::into_vec);
    assert_eq!(
        scopes,
        Some(vec!["streams:write".to_owned(), "streams:read".to_owned()])
    );
    config.build().unwrap();

    let unset = JwtLoginConfig::from_lookup(lookup(&[
        ("CORE_API_AUTH_PASSWORD", "pw"),
        ("CORE_API_AUTH_SCOPES", ""),
    ]))
    .unwrap();
    assert!(unset.users[0].scopes.is_none());

    let error = JwtLoginConfig::from_lookup(lookup(&[
        ("CORE_API_AUTH_PASSWORD", "pw"),
        ("CORE_API_AUTH_SCOPES", "read wr\"ite"),
    ]))
    .unwrap()
    .build()
    .unwrap_err();
    assert_eq!(error.field(), Some("CORE_API_AUTH_SCOPES"));
    assert_eq!(
        error.build_error(),
        &BuildError::InvalidScope {
            scope: "wr\"ite".into()
        }
    );
}
