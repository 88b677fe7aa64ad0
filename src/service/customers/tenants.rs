//! C1-C6: creating, reading, listing and updating customers (tenants).

use super::{LocalCustomers, customer_not_found, query, require_sell, tenant_mismatch};
use crate::domain::access::Action;
use crate::domain::consequence::Consequence;
use crate::domain::model::{BillingContact, Customer, etag};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result, rules};
use crate::service::contract::customers::{
    CheckDomainAvailability, CreateCustomer, CustomerField, GetCustomer, ListCustomers, UpdateCustomer,
};
use crate::service::request_key;
use crate::store::{CustomerFilter, new_id};

impl LocalCustomers {
    /// C1, C2, C3.
    /// C7: tells what C3 would, to whoever may create customers (C1's
    /// callers: the operator, and ACTIVE DIRECT_RESELLER and
    /// INDIRECT_PROVIDER partners) and to the service; others are refused
    /// as C1 refuses them.
    pub(super) async fn check_domain_availability(
        &self,
        principal: &Principal,
        command: CheckDomainAvailability,
    ) -> Result<bool> {
        match principal {
            Principal::Operator { .. } | Principal::Service { .. } => {}
            Principal::Partner { partner_id } => {
                let caller = self.active_caller(partner_id).await?;
                rules::check_customer_creator(&caller, false)?;
            }
            Principal::Customer { .. } => return Err(Error::role_not_allowed("check domain availability")),
        }
        Ok(!self.store.domain_taken(&command.domain).await?)
    }

    pub(super) async fn create_customer(&self, principal: &Principal, command: CreateCustomer) -> Result<Customer> {
        let key = request_key(principal, "CreateCustomer", command.request_id.as_deref(), &command)?;
        let reseller_id = command.indirect_reseller_id;
        let creator = match principal {
            // C2: bought directly from the cloud operator.
            Principal::Operator { .. } => {
                if reseller_id.is_some() {
                    return Err(Error::invalid(
                        "indirect_reseller_id",
                        "the operator creates customers without a partner",
                    ));
                }
                None
            }
            Principal::Partner { partner_id } => {
                // Fails sooner on the caller alone; decided again inside.
                let caller = self.active_caller(partner_id).await?;
                rules::check_customer_creator(&caller, reseller_id.is_some())?;
                Some(caller.id)
            }
            _ => return Err(Error::role_not_allowed("create customers")),
        };

        let mut tx = self.store.begin_write(principal.actor()).await?;
        // W1: P4, C1's kinds and the reseller's link, on the state this
        // write commits against.
        let creator = match &creator {
            Some(creator_id) => {
                let caller = tx.active_caller(creator_id).await?;
                rules::check_customer_creator(&caller, reseller_id.is_some())?;
                Some(caller)
            }
            None => None,
        };
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            let customer = tx.customer(&id).await?.ok_or_else(|| customer_not_found(&id))?;
            drop(tx);
            self.consequences.settle(&id).await?;
            return Ok(customer);
        }
        if let (Some(caller), Some(reseller_id)) = (&creator, &reseller_id) {
            let reseller = tx.partner(reseller_id).await?;
            let linked = tx.active_link(&caller.id, reseller_id).await?.is_some();
            rules::check_reseller_linked(reseller.as_ref(), linked)?;
        }
        let domain = command.domain;
        if tx.customer_by_domain(&domain).await?.is_some() {
            return Err(Error::already_exists(
                Reason::DomainTaken,
                format!("the domain {domain} belongs to an existing customer"),
            ));
        }
        let now = tx.now();
        let contact = command.billing_contact;
        let customer = Customer {
            id: new_id(),
            domain,
            company_name: command.company_name.trim().to_owned(),
            billing_contact: BillingContact {
                email: contact.email,
                first_name: contact.first_name.trim().to_owned(),
                last_name: contact.last_name.trim().to_owned(),
                culture: contact.culture,
                language: contact.language,
            },
            version: 1,
            create_time: now,
            update_time: now,
        };
        tx.insert_customer(&customer).await?;
        tx.remember(key.as_ref(), &customer.id).await?;
        // C1: the creator's rights are the RelationshipService's rows.
        let rights = creator.as_ref().map(|creator| Consequence::CreatorRights {
            customer_id: customer.id.clone(),
            creator_id: creator.id.clone(),
            reseller_id: reseller_id.clone(),
        });
        self.consequences
            .commit(tx, &customer.id, rights.into_iter().collect())
            .await?;
        tracing::info!(customer_id = %customer.id, creator = creator.as_ref().map_or("operator", |p| p.id.as_str()), "customer created");
        Ok(customer)
    }

    /// C4, C5.
    pub(super) async fn get_customer(&self, principal: &Principal, command: GetCustomer) -> Result<Customer> {
        let id = command.id;
        self.gate(principal).await?;
        self.authorize_read(principal, &id).await?;
        self.store.customer(&id).await?.ok_or_else(|| customer_not_found(&id))
    }

    /// C6: a partner's list holds exactly the customers it may read.
    pub(super) async fn list_customers(&self, principal: &Principal, command: ListCustomers) -> Result<Page<Customer>> {
        let ListCustomers {
            page_size,
            page_token,
            company_name_prefix,
            domain_prefix,
            indirect_reseller_id,
        } = command;
        let page = PageRequest::parse(
            page_size,
            &page_token,
            &format!("customers|{company_name_prefix}|{domain_prefix}|{indirect_reseller_id:?}"),
        )?;
        let mut filter = CustomerFilter {
            company_name_prefix: Some(company_name_prefix).filter(|p| !p.is_empty()),
            domain_prefix: Some(domain_prefix).filter(|p| !p.is_empty()),
            indirect_reseller_id,
            ..CustomerFilter::default()
        };
        match principal {
            Principal::Operator { .. } | Principal::Service { .. } => {}
            Principal::Customer { customer_id } => filter.only_id = Some(customer_id.clone()),
            Principal::Partner { partner_id } => {
                // P4: a partner that is not ACTIVE reads no customer.
                self.active_caller(partner_id).await?;
                filter.visible_to_partner = Some(partner_id.clone());
            }
        }
        let rows = self.store.list_customers(&filter, &page).await?;
        // W3: cut by bytes too.
        Ok(page.page(rows, |c| c.id.clone()))
    }

    /// The operator, the customer's own admin, or a transacting partner
    /// update the company name and billing contact; the domain never changes.
    pub(super) async fn update_customer(&self, principal: &Principal, command: UpdateCustomer) -> Result<Customer> {
        let id = &command.id;
        match principal {
            Principal::Operator { .. } => {}
            Principal::Customer { customer_id } if customer_id == id => {}
            Principal::Customer { .. } => return Err(tenant_mismatch()),
            Principal::Partner { partner_id } => {
                // Fails sooner on the caller alone; SELL is decided inside.
                self.active_caller(partner_id).await?;
            }
            Principal::Service { .. } => return Err(Error::role_not_allowed("update customers")),
        }

        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Principal::Partner { partner_id } = principal {
            tx.active_caller(partner_id).await?;
            require_sell(
                &tx.decide(&query(partner_id, id, Action::Sell)).await?,
                "the calling partner",
            )?;
        }
        let current = tx.customer(id).await?.ok_or_else(|| customer_not_found(id))?;
        rules::check_etag(&command.etag, &etag(current.version), "customer")?;
        let next = updated(&current, &command);
        if next == current {
            return Ok(current);
        }
        let updated = tx.update_customer(next).await?;
        tx.commit().await?;
        Ok(updated)
    }
}

/// `current` with the fields the update names set from it, names trimmed.
fn updated(current: &Customer, command: &UpdateCustomer) -> Customer {
    let mut next = current.clone();
    let contact = &command.billing_contact;
    let next_contact = &mut next.billing_contact;
    for field in &command.fields {
        match field {
            CustomerField::CompanyName => next.company_name = command.company_name.trim().to_owned(),
            CustomerField::Email => next_contact.email = contact.email.clone(),
            CustomerField::FirstName => next_contact.first_name = contact.first_name.trim().to_owned(),
            CustomerField::LastName => next_contact.last_name = contact.last_name.trim().to_owned(),
            CustomerField::Culture => next_contact.culture = contact.culture.clone(),
            CustomerField::Language => next_contact.language = contact.language.clone(),
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{GrantState, RelationshipKind, RelationshipSource, Role, Scope, Service};

    #[test]
    fn c1_creator_rights_of_a_direct_reseller() {
        let mut ids = (0..).map(|n: i32| n.to_string());
        let (relationships, grants) = rules::creator_rights("c", "p", None, 9, || ids.next().unwrap_or_default());
        let kinds: Vec<_> = relationships.iter().map(|r| (r.partner_id.as_str(), r.kind)).collect();
        assert_eq!(kinds, [("p", RelationshipKind::Reseller)]);
        assert!(
            relationships
                .iter()
                .all(|r| r.source == RelationshipSource::CustomerCreation)
        );
        let services: Vec<_> = grants.iter().map(|g| g.service).collect();
        assert_eq!(services, Service::ALL);
        assert!(grants.iter().all(|g| {
            g.partner_id == "p"
            && g.scopes == [Scope::Provisioning, Scope::Support]
            // R1: every role but GLOBAL_ADMIN.
            && g.roles.iter().copied().eq(Role::ALL.iter().copied().filter(|r| *r != Role::GlobalAdmin))
            && g.state == GrantState::Active
            && g.end_time.is_none()
        }));
    }

    #[test]
    fn c1_creator_rights_of_a_provider_naming_its_reseller() {
        let mut ids = (0..).map(|n: i32| n.to_string());
        let (relationships, grants) =
            rules::creator_rights("c", "prov", Some("res"), 9, || ids.next().unwrap_or_default());
        let kinds: Vec<_> = relationships
            .iter()
            .map(|r| (r.partner_id.as_str(), r.kind, r.indirect_provider_id.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("prov", RelationshipKind::Reseller, None),
                ("res", RelationshipKind::IndirectReseller, Some("prov")),
            ]
        );
        // DAP goes to the one that does the work: the reseller.
        assert!(grants.iter().all(|g| g.partner_id == "res"));
        assert_eq!(grants.len(), Service::ALL.len());
    }

    fn customer() -> Customer {
        Customer {
            id: "c".into(),
            domain: "a.cn".into(),
            company_name: "Old".into(),
            billing_contact: BillingContact {
                email: "old@a.cn".into(),
                first_name: "Old".into(),
                last_name: "Old".into(),
                culture: "zh-CN".into(),
                language: "zh".into(),
            },
            version: 1,
            create_time: 1,
            update_time: 1,
        }
    }

    #[test]
    fn update_customer_changes_only_the_named_fields_trimmed() {
        let command = UpdateCustomer {
            id: "c".into(),
            etag: String::new(),
            fields: vec![CustomerField::CompanyName, CustomerField::LastName],
            company_name: "  New  ".into(),
            billing_contact: BillingContact {
                email: "new@a.cn".into(),
                first_name: "New".into(),
                last_name: " New ".into(),
                culture: "en-US".into(),
                language: "en".into(),
            },
        };
        let next = updated(&customer(), &command);
        let mut expected = customer();
        expected.company_name = "New".into();
        expected.billing_contact.last_name = "New".into();
        assert_eq!(next, expected);
    }
}
