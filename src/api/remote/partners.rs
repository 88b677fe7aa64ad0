//! `Partners` in another process: the generated client behind the trait.

use super::Remote;

/// The PartnerService of another process.
#[derive(Clone)]
pub struct RemotePartners {
    #[allow(dead_code)]
    remote: Remote,
}

impl RemotePartners {
    pub fn new(remote: Remote) -> Self {
        RemotePartners { remote }
    }
}
