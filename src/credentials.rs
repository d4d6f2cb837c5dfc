//! Credential validators: what turns a login request into a subject.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::error::BuildError;
use crate::scope::Scopes;

/// A user's password as it is configured: plain text, or an argon2id PHC hash string.
///
/// `Debug` never prints either.
///
/// ```
/// use tower_jwt_login::Password;
///
/// let plain = Password::plain("correct horse battery staple");
/// let hashed = Password::phc(
///     "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZQ7dp1K1mtFHDzqKCNOV+8uYySyMNyn3tjfl5BfxKYs",
/// );
/// assert_eq!(format!("{plain:?}"), "Password::Plain([redacted])");
/// assert_eq!(format!("{hashed:?}"), "Password::Phc([redacted])");
/// ```
#[derive(Clone)]
pub struct Password(PasswordKind);

#[derive(Clone)]
enum PasswordKind {
    // Zeroed when dropped, so that the plain text does not linger in freed memory.
    Plain(Zeroizing<String>),
    Phc(String),
}

impl Password {
    /// A password given in plain text, compared in constant time.
    #[must_use]
    pub fn plain(password: impl Into<String>) -> Self {
        Self(PasswordKind::Plain(Zeroizing::new(password.into())))
    }

    /// A password given as an argon2id PHC hash string (`$argon2id$v=19$m=...`).
    ///
    /// The string is checked when the layer is built.
    #[must_use]
    pub fn phc(hash: impl Into<String>) -> Self {
        Self(PasswordKind::Phc(hash.into()))
    }

    /// The password's plain text, when it was given in plain text: datarhei Core's signing key
    /// is derived from it (`JwtLoginBuilder::datarhei_key`).
    pub(crate) fn plain_text(&self) -> Option<&str> {
        match &self.0 {
            PasswordKind::Plain(password) => Some(password),
            PasswordKind::Phc(_) => None,
        }
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            PasswordKind::Plain(_) => f.write_str("Password::Plain([redacted])"),
            PasswordKind::Phc(_) => f.write_str("Password::Phc([redacted])"),
        }
    }
}

/// How a configured password is checked.
#[derive(Clone)]
enum Verifier {
    /// SHA-256 of the plain password. Comparing digests in constant time hides the password's
    /// length as well as its content.
    Plain([u8; 32]),
    /// An argon2id hash, its PHC string parsed once.
    Phc(Arc<Phc>),
}

/// What an argon2id PHC string says: the parameters, the salt, the expected output.
struct Phc {
    params: Params,
    version: Version,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl Phc {
    fn parse(phc: &str) -> Result<Self, String> {
        let hash = PasswordHash::new(phc).map_err(|e| e.to_string())?;
        if hash.algorithm.as_str() != "argon2id" {
            return Err(format!("algorithm {} is not argon2id", hash.algorithm));
        }
        let (Some(salt), Some(output)) = (&hash.salt, &hash.hash) else {
            return Err("salt or hash output missing".to_owned());
        };
        let version = Version::try_from(hash.version.unwrap_or(Version::default().into()))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            params: Params::try_from(&hash).map_err(|e| e.to_string())?,
            version,
            salt: salt.to_vec(),
            hash: output.as_bytes().to_vec(),
        })
    }

    /// Whether `password` hashes to the expected output, with `memory` (at least the
    /// parameters' block count) as argon2's working memory.
    fn matches(&self, password: &[u8], memory: &mut [Block]) -> bool {
        let argon2 = Argon2::new(Algorithm::Argon2id, self.version, self.params.clone());
        let mut output = Zeroizing::new(vec![0; self.hash.len()]);
        argon2
            .hash_password_into_with_memory(password, &self.salt, &mut output, memory)
            .is_ok_and(|()| bool::from(output.ct_eq(&self.hash)))
    }
}

/// argon2's working memory (19 MiB with the crate's default parameters), kept for the next
/// check rather than freed: allocated anew for each check, the freed blocks stayed in the
/// allocator's arenas, and a flood of wrong passwords held 0.8 GB with two checks at a time.
/// Holds at most as many as checks ever ran at once (the login route bounds that).
struct Memory {
    /// Blocks per check: the largest of the configured hashes'.
    blocks: usize,
    free: Mutex<Vec<Box<[Block]>>>,
}

impl Memory {
    fn with<T>(&self, check: impl FnOnce(&mut [Block]) -> T) -> T {
        let taken = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut memory = taken.unwrap_or_else(|| vec![Block::new(); self.blocks].into());
        let outcome = check(&mut memory);
        self.free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(memory);
        outcome
    }
}

impl Verifier {
    fn matches(&self, password: &[u8], memory: &Memory) -> bool {
        match self {
            Self::Plain(digest) => bool::from(Sha256::digest(password)[..].ct_eq(&digest[..])),
            Self::Phc(phc) => memory.with(|blocks| phc.matches(password, blocks)),
        }
    }

    fn is_expensive(&self) -> bool {
        matches!(self, Self::Phc(_))
    }
}

/// The configured local users.
pub(crate) struct LocalUsers {
    /// Sorted by username, searched by bisection: every protected request looks its subject up
    /// here, and a `HashMap` hashed it with SipHash first, which protects against keys an
    /// attacker inserts (these are configured) and cost more than the search.
    users: Box<[(Box<str>, Verifier)]>,
    /// The scopes of each user, in the order of `users`.
    scopes: Box<[Scopes]>,
    /// Checked when the username is unknown, so that an unknown user costs what a known one
    /// does: an argon2 hash if any user has one, a digest comparison otherwise.
    dummy: Verifier,
    memory: Memory,
}

impl LocalUsers {
    pub(crate) fn new(users: Vec<(String, Password)>) -> Result<Self, BuildError> {
        if users.is_empty() {
            return Err(BuildError::NoUsers);
        }
        let mut sorted: Vec<(Box<str>, Verifier)> = Vec::with_capacity(users.len());
        let mut dummy = Verifier::Plain(Sha256::digest(b"\0dummy\0").into());
        for (username, password) in users {
            if username.is_empty() {
                return Err(BuildError::EmptyUsername);
            }
            let verifier = match &password.0 {
                PasswordKind::Plain(p) if p.is_empty() => {
                    return Err(BuildError::EmptyPassword { username });
                }
                PasswordKind::Plain(p) => Verifier::Plain(Sha256::digest(p.as_bytes()).into()),
                PasswordKind::Phc(phc) => {
                    let phc =
                        Phc::parse(phc).map_err(|reason| BuildError::InvalidPasswordHash {
                            username: username.clone(),
                            reason,
                        })?;
                    Verifier::Phc(Arc::new(phc))
                }
            };
            if verifier.is_expensive() && !dummy.is_expensive() {
                dummy = verifier.clone();
            }
            sorted.push((username.into_boxed_str(), verifier));
        }
        sorted.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        if let Some(pair) = sorted.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(BuildError::DuplicateUser {
                username: pair[0].0.to_string(),
            });
        }
        let blocks = sorted
            .iter()
            .filter_map(|(_, verifier)| match verifier {
                Verifier::Phc(phc) => Some(phc.params.block_count()),
                Verifier::Plain(_) => None,
            })
            .max()
            .unwrap_or(0);
        Ok(Self {
            scopes: vec![Scopes::default(); sorted.len()].into(),
            users: sorted.into_boxed_slice(),
            dummy,
            memory: Memory {
                blocks,
                free: Mutex::default(),
            },
        })
    }

    /// Gives each named user its scopes.
    pub(crate) fn with_scopes(mut self, scopes: Vec<(String, Scopes)>) -> Result<Self, BuildError> {
        for (username, granted) in scopes {
            let Some(at) = self.position(&username) else {
                return Err(BuildError::UnknownScopeUser { username });
            };
            self.scopes[at] = granted;
        }
        Ok(self)
    }

    fn position(&self, username: &str) -> Option<usize> {
        self.users
            .binary_search_by(|(name, _)| (**name).cmp(username))
            .ok()
    }

    /// The verifier of a configured user.
    fn get(&self, username: &str) -> Option<&Verifier> {
        self.position(username).map(|at| &self.users[at].1)
    }

    /// The scopes of a configured user; `None` for anybody else.
    pub(crate) fn scopes(&self, username: &str) -> Option<&Scopes> {
        self.position(username).map(|at| &self.scopes[at])
    }

    /// Whether `username` is a configured user.
    #[inline]
    pub(crate) fn contains(&self, username: &str) -> bool {
        self.get(username).is_some()
    }

    /// Whether the password is right for the user. Takes the same time for an unknown user as
    /// for a wrong password (see `dummy`).
    pub(crate) fn check(&self, username: &str, password: &[u8]) -> bool {
        match self.get(username) {
            Some(verifier) => verifier.matches(password, &self.memory),
            None => {
                // The work is done only for its duration; its outcome is ANDed with `false`.
                let dummy =
                    subtle::Choice::from(u8::from(self.dummy.matches(password, &self.memory)));
                bool::from(dummy & subtle::Choice::from(0))
            }
        }
    }

    /// Whether checking a password for this user may take long enough (argon2) to belong on a
    /// blocking thread rather than on an async worker.
    pub(crate) fn is_expensive(&self, username: &str) -> bool {
        self.get(username).unwrap_or(&self.dummy).is_expensive()
    }
}

impl fmt::Debug for LocalUsers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalUsers")
            .field(
                "usernames",
                &self.users.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // argon2id of "hunter2-but-longer" with a fixed salt, made with the argon2 crate's defaults.
    fn phc_of(password: &str) -> String {
        use argon2::PasswordHasher as _;
        Argon2::default()
            .hash_password_with_salt(password.as_bytes(), b"somesaltsomesalt")
            .unwrap()
            .to_string()
    }

    #[test]
    fn plain_password_matches_only_itself() {
        let users = LocalUsers::new(vec![("admin".into(), Password::plain("secret"))]).unwrap();
        assert!(users.check("admin", b"secret"));
        for wrong in [&b"secre"[..], b"secret1", b"Secret", b"secret\0", b""] {
            assert!(!users.check("admin", wrong), "{wrong:?}");
        }
        assert!(!users.check("Admin", b"secret"));
        assert!(!users.check("nobody", b"secret"));
    }

    #[test]
    fn phc_password_matches_only_itself() {
        let users =
            LocalUsers::new(vec![("admin".into(), Password::phc(phc_of("s3cret!")))]).unwrap();
        assert!(users.check("admin", b"s3cret!"));
        assert!(!users.check("admin", b"s3cret"));
        assert!(!users.check("other", b"s3cret!"));
        assert!(
            users.is_expensive("other"),
            "unknown users cost an argon2 run too"
        );
    }

    #[test]
    fn hashes_of_different_costs_share_memory_kept_for_the_next_check() {
        use argon2::PasswordHasher as _;
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password_with_salt(b"small", b"somesaltsomesalt")
        .unwrap()
        .to_string();
        let users = LocalUsers::new(vec![
            ("big".into(), Password::phc(phc_of("big"))),
            ("small".into(), Password::phc(small)),
        ])
        .unwrap();
        assert_eq!(users.memory.blocks, Params::DEFAULT_M_COST as usize);
        for _ in 0..3 {
            assert!(users.check("small", b"small") && !users.check("small", b"big"));
            assert!(users.check("big", b"big") && !users.check("nobody", b"big"));
        }
        // One check at a time: one working memory, reused by all of them.
        assert_eq!(users.memory.free.lock().unwrap().len(), 1);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| assert!(!users.check("big", b"wrong")));
            }
        });
        assert!(users.memory.free.lock().unwrap().len() <= 2);
    }

    #[test]
    fn configuration_errors_are_reported() {
        assert_eq!(LocalUsers::new(vec![]).unwrap_err(), BuildError::NoUsers);
        assert_eq!(
            LocalUsers::new(vec![("a".into(), Password::plain(""))]).unwrap_err(),
            BuildError::EmptyPassword {
                username: "a".into()
            }
        );
        assert_eq!(
            LocalUsers::new(vec![
                ("a".into(), Password::plain("x")),
                ("a".into(), Password::plain("y"))
            ])
            .unwrap_err(),
            BuildError::DuplicateUser {
                username: "a".into()
            }
        );
        assert!(matches!(
            LocalUsers::new(vec![("a".into(), Password::phc("$argon2id$nonsense"))]).unwrap_err(),
            BuildError::InvalidPasswordHash { .. }
        ));
        let argon2i = phc_of("x").replace("argon2id", "argon2i");
        assert!(matches!(
            LocalUsers::new(vec![("a".into(), Password::phc(argon2i))]).unwrap_err(),
            BuildError::InvalidPasswordHash { .. }
        ));
    }

    #[test]
    fn every_configured_user_is_found_and_nobody_else() {
        let names = ["mallory", "admin", "zoë", "bob", "Admin2", "a", "carol"];
        let users = LocalUsers::new(
            names
                .iter()
                .map(|name| ((*name).to_owned(), Password::plain(format!("pw of {name}"))))
                .collect(),
        )
        .unwrap();
        for name in names {
            assert!(users.contains(name), "{name}");
            assert!(
                users.check(name, format!("pw of {name}").as_bytes()),
                "{name}"
            );
        }
        for stranger in ["", "Admin", "admin ", "zoe", "b", "mallory2", "\0"] {
            assert!(!users.contains(stranger), "{stranger:?}");
            assert!(!users.check(stranger, b"pw of admin"), "{stranger:?}");
        }
    }

    #[test]
    fn debug_shows_no_password() {
        let users = LocalUsers::new(vec![("admin".into(), Password::plain("topsecret"))]).unwrap();
        let debug = format!("{users:?} {:?}", Password::plain("topsecret"));
        assert!(debug.contains("admin"));
        assert!(!debug.contains("topsecret"));
    }
}
