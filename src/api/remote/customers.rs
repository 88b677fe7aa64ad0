//! `Customers` in another process: the generated client behind the trait.

use super::Remote;

/// The CustomerService of another process.
#[derive(Clone)]
pub struct RemoteCustomers {
    #[allow(dead_code)]
    remote: Remote,
}

impl RemoteCustomers {
    pub fn new(remote: Remote) -> Self {
        RemoteCustomers { remote }
    }
}
