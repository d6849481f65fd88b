//! Outgoing e-mail: a pluggable sender.
//!
//! Commands that must tell someone something (an invitation's signup link,
//! a temporary password, "your access was revoked") hand a message to the
//! [`Notifier`]. The default writes it to the service's log output, which is
//! what a development setup wants; production plugs in SMTP or an API.

use std::sync::{Arc, Mutex};

/// One e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

pub trait Notifier: Send + Sync + 'static {
    fn send(&self, email: OutgoingEmail);
}

pub type SharedNotifier = Arc<dyn Notifier>;

/// The default: e-mails go to the log output.
#[derive(Debug, Default)]
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn send(&self, email: OutgoingEmail) {
        tracing::info!(to = %email.to, subject = %email.subject, body = %email.body, "e-mail");
    }
}

/// Keeps every e-mail in memory (tests, and embedding applications that
/// deliver themselves).
#[derive(Debug, Default, Clone)]
pub struct MemoryNotifier {
    sent: Arc<Mutex<Vec<OutgoingEmail>>>,
}

impl MemoryNotifier {
    pub fn sent(&self) -> Vec<OutgoingEmail> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Notifier for MemoryNotifier {
    fn send(&self, email: OutgoingEmail) {
        if let Ok(mut sent) = self.sent.lock() {
            sent.push(email);
        }
    }
}
