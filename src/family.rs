//! Token families: every token the layer issues belongs to one login, its *family*, and says
//! which in its `jti`, so that revoking a login refuses every token issued under it.
//!
//! A `jti` is a hyphenated version-4 UUID, as datarhei's are. Its first 8 bytes (60 random bits
//! and the version) are the family's, the other 8 (62 random bits and the variant) the token's
//! own. The family is therefore the first [`FAMILY_LEN`] characters of the `jti`: no claim
//! datarhei's tokens lack, and nothing to remember per token. A `jti` that is not one of ours
//! (a token datarhei issued) is a family of its own, in effect: its first 60 bits are as random.

use uuid::Uuid;

/// How many characters of a `jti` name its family: `xxxxxxxx-xxxx-4xxx`.
pub(crate) const FAMILY_LEN: usize = 18;

/// The family of the token with this `jti`.
#[inline]
pub(crate) fn family_of(jti: &str) -> &str {
    jti.get(..FAMILY_LEN).unwrap_or(jti)
}

/// The family part of the `jti`s of one login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FamilyId([u8; 8]);

impl FamilyId {
    /// A new login's family.
    pub(crate) fn new() -> Self {
        Self::from_uuid(Uuid::new_v4())
    }

    /// The family of a token we issued, from its `jti`; `None` for a `jti` that is not a
    /// hyphenated lower-case UUID (the tokens issued under it then start a family of their own).
    pub(crate) fn of(jti: &str) -> Option<Self> {
        let uuid = Uuid::try_parse(jti).ok()?;
        let mut buffer = Uuid::encode_buffer();
        (uuid.hyphenated().encode_lower(&mut buffer) == jti).then(|| Self::from_uuid(uuid))
    }

    fn from_uuid(uuid: Uuid) -> Self {
        let mut family = [0; 8];
        family.copy_from_slice(&uuid.as_bytes()[..8]);
        Self(family)
    }

    /// A new `jti` of this family: its bytes, then 8 random ones of a fresh version-4 UUID
    /// (which carry the variant bits).
    pub(crate) fn new_jti(self) -> Uuid {
        let mut bytes = *Uuid::new_v4().as_bytes();
        bytes[..8].copy_from_slice(&self.0);
        Uuid::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_one_family_share_its_name_and_differ_otherwise() {
        let family = FamilyId::new();
        let (a, b) = (family.new_jti().to_string(), family.new_jti().to_string());
        assert_ne!(a, b);
        assert_eq!(family_of(&a), family_of(&b));
        assert_eq!(FamilyId::of(&a), Some(family));
        assert_ne!(
            family_of(&FamilyId::new().new_jti().to_string()),
            family_of(&a)
        );
        // Still version-4 UUIDs, as datarhei's are.
        assert_eq!(Uuid::try_parse(&a).unwrap().get_version_num(), 4);
        assert_eq!(
            Uuid::try_parse(&a).unwrap().get_variant(),
            uuid::Variant::RFC4122
        );
    }

    #[test]
    fn a_foreign_jti_has_no_family_to_continue() {
        for jti in [
            "",
            "j",
            "0B5E3A5C-8E1F-4B4E-9D3A-2F0F7A0C1D2E",
            "0b5e3a5c8e1f4b4e9d3a2f0f7a0c1d2e",
        ] {
            assert_eq!(FamilyId::of(jti), None, "{jti}");
        }
        assert_eq!(family_of("short"), "short");
    }
}
