//! The partner-grant sweep: a customer's grant to its partner may carry an
//! end. Every hour (`serve`, or `portal-ledger partner-grants`) the
//! service reminds the customer's admins 7 days and 1 day before an end,
//! and records the grants whose end passed (`server.partner_access_expired`).
//!
//! Why a sweep and not only the clock: every check already asks
//! `ServerState::grant_stands(now)`, so a grant stops at its end to the
//! microsecond whether the sweep ran or not. The sweep is what the
//! customer is told in advance, and what histories, the activity log and
//! "who could" show afterwards. Each reminder has one id per server, end,
//! threshold and admin, so a second run (or a second process) appends
//! nothing; an expiry is a command on the server's stream, so it loses
//! cleanly to a concurrent extension.

use chrono::{DateTime, Duration, Utc};

use crate::app::context::{ActivityType, CommandContext, EventMetadata};
use crate::app::ledger::{Ledger, LedgerError};
use crate::app::notifications::{Notice, Recipient};
use crate::app::servers::ExpirePartnerAccess;
use crate::domain::notification::{self, GRANT_REMINDERS};
use crate::domain::DomainError;
use crate::read_ports::GrantSource;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GrantSweep {
    pub reminded: usize,
    pub expired: usize,
}

impl Ledger {
    /// Reminds and expires as of `now` (see the module docs).
    pub async fn sweep_partner_grants(
        &self,
        now: DateTime<Utc>,
        source: &dyn GrantSource,
    ) -> Result<GrantSweep, LedgerError> {
        let mut done = GrantSweep::default();
        let (longest, _) = GRANT_REMINDERS[0];
        for server_id in source
            .grants_ending_by(now + Duration::days(longest))
            .await?
        {
            let state = self.load_server(server_id).await?.state;
            let (Some(end), true, Some(account)) = (
                state.partner_access_until,
                state.partner_access,
                state.account_id,
            ) else {
                continue;
            };
            if end <= now {
                let expiry = ExpirePartnerAccess { server_id, now };
                match self.run(&CommandContext::system(), expiry).await {
                    Ok(_) => done.expired += 1,
                    // Recorded meanwhile, or extended: nothing to do.
                    Err(LedgerError::Domain(DomainError::NoChange)) => {}
                    Err(e) => return Err(e),
                }
                continue;
            }
            // The nearest threshold the end is within (a sweep that first
            // sees a grant 3 days before its end sends the 7-day one).
            let Some((days, ahead)) = GRANT_REMINDERS
                .iter()
                .rev()
                .find(|(days, _)| end - Duration::days(*days) <= now)
                .copied()
            else {
                continue;
            };
            let admins = self.load_account(account).await?.state.admins;
            for admin in admins {
                let user = self.load_user(admin).await?.state;
                let (Ok(_), Some(email)) = (user.active(), user.email.clone()) else {
                    continue;
                };
                let notice = Notice::plain(
                    Recipient::user(admin, email),
                    notification::grant_ending(&state.name, end, ahead),
                );
                let metadata = EventMetadata::new(
                    &CommandContext::system(),
                    None,
                    None,
                    account,
                    ActivityType::UpdateServer,
                    format!("Reminded that partner access to server {} ends", state.name),
                    None,
                )
                .with_target("server", server_id)
                .names_nobody();
                let id = notification::grant_reminder_id(server_id, end, days, admin);
                if self.send_once(&notice, id, &metadata).await? {
                    done.reminded += 1;
                }
            }
        }
        Ok(done)
    }
}
