//! The log's one hash: SHA-256, with RFC 9162's domain separation between leaves and interior
//! nodes, and the standard base64 form in which checkpoints and API answers carry it.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// A SHA-256 value: a leaf hash, an interior node or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash([u8; 32]);

/// Why a text is not a hash.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashError {
    /// 32 bytes are always 44 characters of padded standard base64.
    #[error("a hash is 44 characters of standard base64, not {0}")]
    Length(usize),
    #[error("a hash is standard base64 with padding")]
    Base64(#[source] base64::DecodeError),
    #[error("a hash is 32 bytes, not {0}")]
    Bytes(usize),
}

impl Hash {
    /// The Merkle Tree Hash of the empty tree: SHA-256 of no bytes (RFC 9162 §2.1.1).
    pub fn empty_tree() -> Self {
        Self(Sha256::digest([]).into())
    }

    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Standard base64 with padding (RFC 4648 §4), as the checkpoint's root line carries it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Strict: exactly 44 characters, canonical padding and trailing bits, so that one hash has
    /// one text and a checkpoint body one parse.
    pub fn from_base64(text: &str) -> Result<Self, HashError> {
        if text.len() != 44 {
            return Err(HashError::Length(text.len()));
        }
        let bytes = STANDARD.decode(text).map_err(HashError::Base64)?;
        Self::try_from(bytes.as_slice())
    }
}

impl TryFrom<&[u8]> for Hash {
    type Error = HashError;

    fn try_from(bytes: &[u8]) -> Result<Self, HashError> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| HashError::Bytes(bytes.len()))
    }
}

/// Hex, as test vectors and logs print hashes.
impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// Base64, as the API and checkpoints show hashes.
impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// `SHA-256(0x00 || bytes)`: the prefix keeps a leaf from ever passing for an interior node.
pub fn leaf_hash(bytes: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(bytes);
    Hash(hasher.finalize().into())
}

/// `SHA-256(0x01 || left || right)`, RFC 9162 §2.1.1.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left.0);
    hasher.update(right.0);
    Hash(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(hash: &Hash) -> String {
        format!("{hash:?}")
    }

    #[test]
    fn the_empty_tree_hashes_to_sha256_of_nothing() {
        // RFC 9162 §2.1.1: MTH({}) is SHA-256 of no bytes; the value is transparency-dev/merkle's
        // EmptyRootHash in testonly/constants.go at 582a6ad190b6848f1d26f8bf08ddef29955d9db1.
        assert_eq!(
            hex(&Hash::empty_tree()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_leaf_and_a_node_over_the_same_bytes_differ() {
        let zero = Hash::from_bytes([0; 32]);
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(zero.as_bytes());
        bytes[32..].copy_from_slice(zero.as_bytes());
        assert_ne!(leaf_hash(&bytes), node_hash(&zero, &zero));
    }

    #[test]
    fn base64_round_trips() {
        let hash = leaf_hash(b"x");
        let text = hash.to_base64();
        assert_eq!(text.len(), 44);
        assert_eq!(Hash::from_base64(&text), Ok(hash));
        assert_eq!(hash.to_string(), text);
    }

    #[test]
    fn base64_of_the_wrong_length_is_refused() {
        let text = leaf_hash(b"x").to_base64();
        assert_eq!(Hash::from_base64(&text[..43]), Err(HashError::Length(43)));
        assert_eq!(
            Hash::from_base64(&format!("{text}=")),
            Err(HashError::Length(45))
        );
        assert_eq!(Hash::from_base64(""), Err(HashError::Length(0)));
        // 44 characters that decode to 33 bytes ("AAAA" x 11 is 33 zero bytes).
        assert_eq!(
            Hash::from_base64(&"AAAA".repeat(11)),
            Err(HashError::Bytes(33))
        );
    }

    #[test]
    fn non_canonical_base64_is_refused() {
        let text = leaf_hash(b"x").to_base64();
        // URL-safe alphabet, missing padding, and set trailing bits are all other texts.
        let url_safe = text.replace('+', "-").replace('/', "_");
        if url_safe != text {
            assert!(Hash::from_base64(&url_safe).is_err());
        }
        let unpadded = format!("{}A", &text[..43]);
        assert!(Hash::from_base64(&unpadded).is_err());
        // The last character before '=' carries 2 unused bits: 'B' sets one where 'A' does not.
        let zero = Hash::from_bytes([0; 32]).to_base64();
        assert!(zero.ends_with("A="));
        let trailing = format!("{}B=", &zero[..42]);
        assert!(Hash::from_base64(&trailing).is_err());
    }
}
