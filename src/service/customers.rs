//! Customers: the use cases of the CustomersService (to be moved here from `api::customers`).
