//! `OpenSession`: a session opened for a user who just proved their
//! password (and, from a new location, the e-mailed code) to `Auth`.

use chrono::{DateTime, Utc};

use crate::app::command::{Change, Command, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{display_email, Authorized, Ledger, LedgerError, Loaded};
use crate::domain::account::AccountState;
use crate::domain::ids::{AccountId, SessionId, UserId};
use crate::domain::session::{self, SessionState};
use crate::domain::user::UserState;

/// Built only by `Auth::sign_in` (its fields are not public): the
/// credentials are its authorization.
pub(super) struct OpenSession {
    pub(super) session_id: SessionId,
    pub(super) user_id: UserId,
    pub(super) account_id: AccountId,
    pub(super) token_hash: String,
    pub(super) expires_at: DateTime<Utc>,
}

/// The session's stream, and the user and account it is opened in.
pub(super) struct SessionFacts {
    pub(super) session: Loaded<SessionState>,
    pub(super) user: UserState,
    pub(super) account: AccountState,
}

impl SessionFacts {
    pub(super) async fn load(
        ledger: &Ledger,
        session_id: SessionId,
        user_id: UserId,
        account_id: AccountId,
    ) -> Result<Self, LedgerError> {
        Ok(Self {
            session: ledger.load_session(session_id).await?,
            user: ledger.load_user(user_id).await?.state,
            account: ledger.load_account(account_id).await?.state,
        })
    }
}

impl Facts<OpenSession> for SessionFacts {
    async fn load(
        ledger: &Ledger,
        _: &CommandContext,
        command: &OpenSession,
    ) -> Result<Self, LedgerError> {
        SessionFacts::load(
            ledger,
            command.session_id,
            command.user_id,
            command.account_id,
        )
        .await
    }

    fn permission(&self, _: &OpenSession) -> Result<Permission<'_>, LedgerError> {
        Ok(Permission::own_session(&self.account, &self.user))
    }
}

impl Command for OpenSession {
    type Facts = SessionFacts;

    fn decide(&self, facts: &SessionFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let events = session::decide_open(
            &facts.session.state,
            self.session_id,
            self.user_id,
            self.account_id,
            self.token_hash.clone(),
            self.expires_at,
        )?;
        Ok(Decision::new(
            ActivityType::OpenSession,
            format!("{} signed in", display_email(&facts.user)),
        )
        .target("session", self.session_id)
        .target("user", self.user_id)
        .change(Change::at(
            self.session_id.stream(),
            facts.session.version,
            &events,
        )?))
    }
}
