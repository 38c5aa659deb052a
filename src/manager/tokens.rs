//! API tokens: random 256-bit, shown once, stored as a SHA-256 hash, role admin or user.

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::OsRng;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::servers::unknown_user;
use super::AuditAction;
use super::{Portal, PortalError, Result};
use crate::ids::UserId;
use crate::store::{sha256_hex, TokenRecord, TokenRole, TokenScope};

/// A token just made: the only time its secret part is available.
#[derive(Serialize, Deserialize)]
pub struct NewToken {
    pub id: String,
    pub user: UserId,
    pub role: TokenRole,
    #[serde(default)]
    pub scope: TokenScope,
    pub token: String,
}

/// A token as listed: never its value or its hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenView {
    pub id: String,
    pub user: UserId,
    pub role: TokenRole,
    #[serde(default)]
    pub scope: TokenScope,
    pub created_at: jiff::Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<jiff::Timestamp>,
}

impl From<&TokenRecord> for TokenView {
    fn from(t: &TokenRecord) -> Self {
        Self {
            id: t.id.clone(),
            user: t.user.clone(),
            role: t.role,
            scope: t.scope,
            created_at: t.created_at,
            expires_at: t.expires_at,
        }
    }
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("id", &self.id)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The prefix that makes a leaked token easy to recognise (and to scan for).
const PREFIX: &str = "mcpp_";

impl Portal {
    pub fn create_token(
        &self,
        user: &UserId,
        role: TokenRole,
        scope: TokenScope,
        expires_at: Option<jiff::Timestamp>,
    ) -> Result<NewToken> {
        let r = self.create_token_unaudited(user, role, scope, expires_at);
        self.audited(
            Some(user.as_str()),
            AuditAction::TokenCreate,
            user.as_str(),
            r,
        )
    }

    fn create_token_unaudited(
        &self,
        user: &UserId,
        role: TokenRole,
        scope: TokenScope,
        expires_at: Option<jiff::Timestamp>,
    ) -> Result<NewToken> {
        let _lock = self.store.lock()?;
        if self.store.read_user(user)?.is_none() {
            return Err(unknown_user(user));
        }
        if let Some(at) = expires_at.filter(|at| *at <= Self::now()) {
            return Err(PortalError::Usage(format!(
                "token expiry {at} is in the past; give a later time or a duration such as 30d"
            )));
        }
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
        let sha256 = sha256_hex(token.as_bytes());
        let id = format!("t-{}", &sha256[..12]);
        let mut tokens = self.store.read_tokens()?;
        tokens.tokens.push(TokenRecord {
            id: id.clone(),
            user: user.clone(),
            role,
            scope,
            sha256,
            created_at: Self::now(),
            expires_at,
        });
        self.store.write_tokens(&tokens)?;
        Ok(NewToken {
            id,
            user: user.clone(),
            role,
            scope,
            token,
        })
    }

    pub fn list_tokens(&self) -> Result<Vec<TokenView>> {
        let _lock = self.store.lock()?;
        Ok(self
            .store
            .read_tokens()?
            .tokens
            .iter()
            .map(TokenView::from)
            .collect())
    }

    pub fn revoke_token(&self, id: &str) -> Result<()> {
        let r = self.revoke_token_unaudited(id);
        if r.is_ok() {
            self.events
                .publish(super::events::Signal::TokenRevoked(id.to_string()));
        }
        self.audited(None, AuditAction::TokenRevoke, id, r)
    }

    fn revoke_token_unaudited(&self, id: &str) -> Result<()> {
        let _lock = self.store.lock()?;
        let mut tokens = self.store.read_tokens()?;
        let before = tokens.tokens.len();
        tokens.tokens.retain(|t| t.id != id);
        if tokens.tokens.len() == before {
            return Err(PortalError::NotFound {
                what: "token",
                name: id.to_string(),
                hint: "see the tokens with `portalctl token ls`".into(),
            });
        }
        self.store.write_tokens(&tokens)?;
        Ok(())
    }

    /// Whether the token of this id still works: not revoked or expired, and its user
    /// the one it was made for. A store that cannot be read keeps what it has.
    pub fn token_in_force(&self, id: &str) -> bool {
        let Ok(tokens) = self.store.read_tokens() else {
            return true;
        };
        let Some(token) = tokens.tokens.into_iter().find(|t| t.id == id) else {
            return false;
        };
        self.accepted(token).is_ok_and(|t| t.is_some())
    }

    /// The token record for a presented token, if it is one of ours.
    pub fn authenticate(&self, presented: &str) -> Result<Option<TokenRecord>> {
        if !presented.starts_with(PREFIX) || presented.len() > 128 {
            return Ok(None);
        }
        // Looking up by hash: the comparison never touches the secret byte by byte.
        let sha = sha256_hex(presented.as_bytes());
        let Some(token) = self
            .store
            .read_tokens()?
            .tokens
            .into_iter()
            .find(|t| t.sha256 == sha)
        else {
            return Ok(None);
        };
        self.accepted(token)
    }

    /// The token, if it is in force: not expired, and its user the one it was made for.
    fn accepted(&self, token: TokenRecord) -> Result<Option<TokenRecord>> {
        if token.expires_at.is_some_and(|at| at <= Self::now()) {
            return Ok(None);
        }
        // A token is its user's only while that user exists, and only the user it was made
        // for: one older than its user's record was made for an earlier user of the name.
        let owner = self.store.read_user(&token.user)?;
        match owner {
            Some(u) if u.value.created_at <= token.created_at => Ok(Some(token)),
            _ => Ok(None),
        }
    }
}
