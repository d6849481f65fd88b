//! `CloseSession`: a user signs out of the session their request carries.

use crate::app::command::{Change, Command, Decision, Permission};
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

impl Command for CloseSession {
    type Facts = SessionFacts;
    type Output = ();

    async fn load(&self, ledger: &Ledger, _: &CommandContext) -> Result<SessionFacts, LedgerError> {
        let p = self.principal;
        SessionFacts::load(ledger, p.session_id, p.user_id, p.account_id).await
    }

    fn permission<'f>(&self, facts: &'f SessionFacts) -> Result<Permission<'f>, LedgerError> {
        Ok(Permission::own_session(&facts.account, &facts.user))
    }

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
