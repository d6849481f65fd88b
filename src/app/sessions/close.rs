//! `CloseSession`: a user signs out of the session their request carries.

use crate::app::command::{Change, Command, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{display_email, Authorized, Ledger, LedgerError};
use crate::app::sessions::open::SessionFacts;
use crate::app::sessions::Principal;
use crate::domain::session;

/// Built only by `Auth::sign_out` from the request's authenticated
/// session: its token is the authorization.
pub(super) struct CloseSession {
    pub(super) principal: Principal,
}

impl Facts<CloseSession> for SessionFacts {
    async fn load(
        ledger: &Ledger,
        _: &CommandContext,
        command: &CloseSession,
    ) -> Result<Self, LedgerError> {
        let p = command.principal;
        SessionFacts::load(ledger, p.session_id, p.user_id, p.account_id).await
    }

    fn permission(&self, _: &CloseSession) -> Result<Permission<'_>, LedgerError> {
        Ok(Permission::own_session(&self.account, &self.user))
    }
}

impl Command for CloseSession {
    type Facts = SessionFacts;

    fn decide(&self, facts: &SessionFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let events = session::decide_close(&facts.session.state)?;
        Ok(Decision::new(
            ActivityType::CloseSession,
            format!("{} signed out", display_email(&facts.user)),
        )
        .target("session", self.principal.session_id)
        .change(Change::at(
            self.principal.session_id.stream(),
            facts.session.version,
            &events,
        )?))
    }
}
