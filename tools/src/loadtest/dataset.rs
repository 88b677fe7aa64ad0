//! The dataset a run works on: seeded through the API with a skewed,
//! Pareto-like shape (a few partners own most customers), or discovered in
//! an existing database (`--no-seed`, e.g. after `partnercenter-load seed`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

use super::client::{Auth, Channels, authed};
use rand::RngExt;
use rand::seq::IndexedRandom;

use super::rng::{self, Skewed};
use partnercenter::BoxError;
use partnercenter::api::pb;
use partnercenter::api::pb::customer_service_client::CustomerServiceClient;
use partnercenter::api::pb::partner_service_client::PartnerServiceClient;
use partnercenter::api::pb::relationship_service_client::RelationshipServiceClient;

use pb::partner::Kind;

pub const SERVICES: [&str; 3] = ["office365", "azure", "dynamics365"];

/// Zipf exponent of who created, and whom customers invite: the first
/// partner gets about a quarter of all customers.
const SKEW: f64 = 1.2;

pub struct PartnerRef {
    pub id: String,
    pub kind: Kind,
    /// None when the run has no secret to mint partner tokens.
    pub bearer: Option<AsciiMetadataValue>,
}

pub struct CustomerRef {
    pub id: String,
    pub bearer: Option<AsciiMetadataValue>,
    /// Partners known to hold a relationship or a grant (indices into
    /// `partners`), so that most checks ask about a real pair.
    pub related: Vec<usize>,
    /// Indices into `subscriptions`.
    pub subscriptions: Vec<usize>,
}

pub struct SubscriptionRef {
    pub id: String,
    /// The partner of record, when known.
    pub partner: Option<usize>,
}

pub struct InvitationRef {
    pub code: String,
    pub partner: usize,
}

pub struct Dataset {
    pub partners: Vec<PartnerRef>,
    pub customers: Vec<CustomerRef>,
    pub subscriptions: Vec<SubscriptionRef>,
    /// Unbound (reusable) invitations with DAP, one per inviting partner.
    pub invitations: Vec<InvitationRef>,
    /// The partner with the most customers (the `list` scenario pages
    /// through its list).
    pub largest_partner: Option<usize>,
    pub service: AsciiMetadataValue,
    pub operator: Option<AsciiMetadataValue>,
    /// Grants the seed made (customer, partner, service), each with its
    /// roles assigned to the partner's security group of `GROUP_MEMBERS`
    /// users (R4, R5): what per-user checks find.
    pub grants: Vec<(usize, usize, &'static str)>,
}

/// R4: the users in every seeded partner's group; per-user checks also
/// ask about users outside it.
pub const GROUP_MEMBERS: usize = 8;

/// A seeded user id: the first `GROUP_MEMBERS` are in their partner's group.
pub fn user_id(n: usize) -> String {
    format!("user-{n}")
}

impl Dataset {
    fn check_usable(&self) -> Result<(), BoxError> {
        if self.partners.is_empty() || self.customers.is_empty() {
            return Err(format!(
                "the dataset has {} partners and {} customers; a run needs at least one of each",
                self.partners.len(),
                self.customers.len()
            )
            .into());
        }
        Ok(())
    }

    pub fn summary(&self) -> String {
        let relationships: usize = self.customers.iter().map(|c| c.related.len()).sum();
        format!(
            "{} partners, {} customers, {} known relationships/grants, {} subscriptions, {} invitations",
            self.partners.len(),
            self.customers.len(),
            relationships,
            self.subscriptions.len(),
            self.invitations.len()
        )
    }

    fn recompute_largest(&mut self) {
        let mut counts = vec![0usize; self.partners.len()];
        for customer in &self.customers {
            for &partner in &customer.related {
                counts[partner] += 1;
            }
        }
        self.largest_partner = counts
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .max_by_key(|(_, count)| **count)
            .map(|(index, _)| index);
    }
}

/// The size of a seeded dataset.
#[derive(Clone, Debug)]
pub struct SeedShape {
    pub partners: usize,
    pub customers: usize,
    /// Seeding calls in flight.
    pub concurrency: usize,
    pub seed: u64,
}

fn kind_of(index: usize) -> Kind {
    // 60% direct resellers, 15% indirect providers, 20% indirect resellers,
    // 5% advisors; the first partners are direct resellers, so the biggest
    // creators of the skewed distribution are too.
    match index % 20 {
        0..=11 => Kind::DirectReseller,
        12..=14 => Kind::IndirectProvider,
        15..=18 => Kind::IndirectReseller,
        _ => Kind::Advisor,
    }
}

fn can_create(kind: Kind) -> bool {
    matches!(kind, Kind::DirectReseller | Kind::IndirectProvider)
}

fn status_error(what: &str, status: &tonic::Status) -> BoxError {
    format!("dataset: {what} failed: {:?}: {}", status.code(), status.message()).into()
}

/// Runs `count` calls with at most `concurrency` in flight; the first
/// error stops the others from starting new calls.
async fn in_parallel<T, F, Fut>(count: usize, concurrency: usize, make: F) -> Result<Vec<T>, BoxError>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, BoxError>> + Send + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.clamp(1, count.max(1)) {
        let (make, next, stop) = (make.clone(), next.clone(), stop.clone());
        tasks.spawn(async move {
            let mut done = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count || stop.load(Ordering::Relaxed) {
                    return Ok(done);
                }
                match make(index).await {
                    Ok(value) => done.push((index, value)),
                    Err(error) => {
                        stop.store(true, Ordering::Relaxed);
                        return Err(error);
                    }
                }
            }
        });
    }
    let mut all = Vec::with_capacity(count);
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined? {
            Ok(done) => all.extend(done),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    all.sort_by_key(|(index, _)| *index);
    Ok(all.into_iter().map(|(_, value)| value).collect())
}

fn step(name: &str, count: usize, started: Instant) {
    eprintln!("seeding: {count} {name} ({:.1}s)", started.elapsed().as_secs_f64());
}

/// Seeds a dataset through the API, as the operator, the partners and the
/// customers' admins would build it, each call sent to its service.
pub async fn seed(channels: &Channels, auth: &Auth, shape: &SeedShape) -> Result<Dataset, BoxError> {
    if shape.partners == 0 || shape.partners > 99_999 || shape.customers == 0 {
        return Err("--partners must be 1 to 99999 and --customers at least 1".into());
    }
    let started = Instant::now();
    let mut rng = rng::seeded(shape.seed);
    // Distinguishes this run's mpn ids and domains from earlier runs'
    // against the same database.
    let tag = 10_000 + rng.random_range(0..90_000);
    let operator = auth.operator()?;
    let partner_channel = channels.partner[0].clone();
    let customer_channel = channels.customer[0].clone();
    let relationship_channel = channels.relationship[0].clone();
    let parallel = shape.concurrency;

    // Partners (P1).
    let partner_ids = {
        let (channel, operator) = (partner_channel.clone(), operator.clone());
        in_parallel(shape.partners, parallel, move |i| {
            let mut client = PartnerServiceClient::new(channel.clone());
            let request = authed(
                pb::CreatePartnerRequest {
                    partner: Some(pb::Partner {
                        mpn_id: format!("{tag:05}{i:05}"),
                        display_name: format!("Loadtest partner {i}"),
                        kind: kind_of(i) as i32,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &operator,
            );
            async move {
                let reply = client.create_partner(request).await;
                Ok(reply.map_err(|s| status_error("CreatePartner", &s))?.into_inner().id)
            }
        })
        .await?
    };
    let mut partners = Vec::with_capacity(partner_ids.len());
    for (i, id) in partner_ids.into_iter().enumerate() {
        let bearer = Some(auth.partner(&id)?);
        partners.push(PartnerRef {
            id,
            kind: kind_of(i),
            bearer,
        });
    }
    step("partners", partners.len(), started);

    // Each indirect reseller is linked with a provider (P2).
    let providers: Vec<usize> = (0..partners.len())
        .filter(|&i| partners[i].kind == Kind::IndirectProvider)
        .collect();
    let resellers: Vec<usize> = (0..partners.len())
        .filter(|&i| partners[i].kind == Kind::IndirectReseller)
        .collect();
    let mut linked: HashMap<usize, Vec<usize>> = HashMap::new();
    if !providers.is_empty() {
        for (n, &reseller) in resellers.iter().enumerate() {
            linked.entry(providers[n % providers.len()]).or_default().push(reseller);
        }
    }
    let links: Vec<(String, String)> = linked
        .iter()
        .flat_map(|(provider, resellers)| {
            resellers
                .iter()
                .map(|reseller| (partners[*provider].id.clone(), partners[*reseller].id.clone()))
        })
        .collect();
    {
        let links = Arc::new(links);
        let (channel, operator, list) = (partner_channel, operator.clone(), links.clone());
        in_parallel(links.len(), parallel, move |i| {
            let mut client = PartnerServiceClient::new(channel.clone());
            let (provider_id, reseller_id) = list[i].clone();
            let request = authed(
                pb::LinkIndirectResellerRequest {
                    provider_id,
                    reseller_id,
                    request_id: String::new(),
                    // The operator's link: ACTIVE at once (L1).
                    expire_after_days: 0,
                },
                &operator,
            );
            async move {
                client
                    .link_indirect_reseller(request)
                    .await
                    .map_err(|s| status_error("LinkIndirectReseller", &s))?;
                Ok(())
            }
        })
        .await?;
        step("partner links", links.len(), started);
    }

    // Customers (C1), created by partners drawn from a skewed distribution;
    // some of a provider's name one of its resellers.
    let creators: Vec<usize> = (0..partners.len()).filter(|&i| can_create(partners[i].kind)).collect();
    if creators.is_empty() {
        return Err("seeding needs a direct reseller or an indirect provider: raise --partners".into());
    }
    let by_rank = Skewed::new(creators.len(), SKEW);
    let planned: Vec<(usize, Option<usize>)> = (0..shape.customers)
        .map(|_| {
            let creator = creators[by_rank.sample(&mut rng)];
            let reseller = match linked.get(&creator) {
                Some(resellers) if rng.random_bool(0.3) => resellers.choose(&mut rng).copied(),
                _ => None,
            };
            (creator, reseller)
        })
        .collect();
    let customer_ids = {
        let planned = Arc::new(
            planned
                .iter()
                .map(|(creator, reseller)| {
                    (
                        partners[*creator].bearer.clone(),
                        reseller.map(|r| partners[r].id.clone()).unwrap_or_default(),
                    )
                })
                .collect::<Vec<_>>(),
        );
        let channel = customer_channel.clone();
        in_parallel(shape.customers, parallel, move |i| {
            let mut client = CustomerServiceClient::new(channel.clone());
            let (creator, reseller_id) = planned[i].clone();
            let domain = format!("c{i}-{tag}.loadtest.cn");
            let message = pb::CreateCustomerRequest {
                customer: Some(pb::Customer {
                    company_name: format!("Loadtest customer {i}"),
                    billing_contact: Some(pb::BillingContact {
                        email: format!("admin@{domain}"),
                        first_name: "Li".into(),
                        last_name: "Wei".into(),
                        culture: "zh-CN".into(),
                        language: "zh".into(),
                    }),
                    domain,
                    ..Default::default()
                }),
                indirect_reseller_id: reseller_id,
                request_id: String::new(),
            };
            async move {
                let creator = creator.ok_or("no partner token")?;
                let reply = client.create_customer(authed(message, &creator)).await;
                Ok(reply.map_err(|s| status_error("CreateCustomer", &s))?.into_inner().id)
            }
        })
        .await?
    };
    let mut customers = Vec::with_capacity(customer_ids.len());
    for (id, (creator, reseller)) in customer_ids.into_iter().zip(&planned) {
        let bearer = Some(auth.customer(&id)?);
        customers.push(CustomerRef {
            id,
            bearer,
            related: std::iter::once(*creator).chain(*reseller).collect(),
            subscriptions: Vec::new(),
        });
    }
    step("customers", customers.len(), started);

    let mut dataset = Dataset {
        partners,
        customers,
        subscriptions: Vec::new(),
        invitations: Vec::new(),
        largest_partner: None,
        service: auth.service()?,
        operator: Some(operator.clone()),
        grants: Vec::new(),
    };
    create_invitations(&mut dataset, &relationship_channel, creators.len(), parallel).await?;
    step("invitations", dataset.invitations.len(), started);

    // Multi-partner: a fifth of the customers accept another invitation, the
    // big partners' more often (I6, with DAP: D2 supersedes along the way).
    let by_rank = Skewed::new(dataset.invitations.len(), SKEW);
    let accepts: Vec<(usize, usize)> = (0..shape.customers / 5)
        .map(|_| (rng.random_range(0..dataset.customers.len()), by_rank.sample(&mut rng)))
        .collect();
    {
        let calls: Arc<Vec<_>> = Arc::new(
            accepts
                .iter()
                .map(|&(c, inv)| {
                    (
                        dataset.customers[c].bearer.clone(),
                        dataset.invitations[inv].code.clone(),
                    )
                })
                .collect(),
        );
        let channel = relationship_channel.clone();
        in_parallel(calls.len(), parallel, move |i| {
            let mut client = RelationshipServiceClient::new(channel.clone());
            let (bearer, code) = calls[i].clone();
            async move {
                let bearer = bearer.ok_or("no customer token")?;
                let request = authed(pb::AcceptRelationshipRequestRequest { code }, &bearer);
                client
                    .accept_relationship_request(request)
                    .await
                    .map_err(|s| status_error("AcceptRelationshipRequest", &s))?;
                Ok(())
            }
        })
        .await?;
    }
    for &(c, inv) in &accepts {
        let partner = dataset.invitations[inv].partner;
        if !dataset.customers[c].related.contains(&partner) {
            dataset.customers[c].related.push(partner);
        }
    }
    step("accepted invitations", accepts.len(), started);

    // A tenth grant DAP unasked to some partner (D1).
    let grantees: Vec<usize> = (0..dataset.partners.len())
        .filter(|&i| dataset.partners[i].kind != Kind::Advisor)
        .collect();
    let grants: Vec<(usize, usize, &'static str)> = (0..shape.customers / 10)
        .filter_map(|_| {
            let customer = rng.random_range(0..dataset.customers.len());
            let partner = *grantees.choose(&mut rng)?;
            Some((customer, partner, *SERVICES.choose(&mut rng)?))
        })
        .collect();
    {
        let calls: Arc<Vec<_>> = Arc::new(
            grants
                .iter()
                .map(|&(c, p, service)| {
                    (
                        dataset.customers[c].bearer.clone(),
                        dataset.partners[p].id.clone(),
                        service.to_owned(),
                    )
                })
                .collect(),
        );
        let channel = relationship_channel.clone();
        let grant_ids = in_parallel(calls.len(), parallel, move |i| {
            let mut client = RelationshipServiceClient::new(channel.clone());
            let (bearer, partner_id, service) = calls[i].clone();
            async move {
                let bearer = bearer.ok_or("no customer token")?;
                let request = authed(
                    pb::GrantDelegatedAdminRequest {
                        partner_id,
                        service,
                        scopes: vec![pb::delegated_admin_grant::Scope::Support as i32],
                        duration_days: 365,
                        ..Default::default()
                    },
                    &bearer,
                );
                let reply = client
                    .grant_delegated_admin(request)
                    .await
                    .map_err(|s| status_error("GrantDelegatedAdmin", &s))?;
                Ok(reply.into_inner().grant.map(|g| g.id).unwrap_or_default())
            }
        })
        .await?;
        seed_assignments(&dataset, &grants, grant_ids, &operator, &relationship_channel, parallel).await?;
    }
    for &(c, p, _) in &grants {
        if !dataset.customers[c].related.contains(&p) {
            dataset.customers[c].related.push(p);
        }
    }
    step("delegated admin grants, groups and assignments", grants.len(), started);
    dataset.grants = grants;

    // CSP subscriptions (S2) for three customers in ten, by their creator
    // (customers created for a reseller are left out: their creator's
    // rights to sell there are the provider's business).
    let subscribed: Vec<usize> = (0..dataset.customers.len())
        .filter(|&c| c % 10 < 3 && planned[c].1.is_none())
        .collect();
    let subscription_ids = {
        let calls: Arc<Vec<_>> = Arc::new(
            subscribed
                .iter()
                .map(|&c| {
                    let creator = planned[c].0;
                    (
                        dataset.partners[creator].bearer.clone(),
                        dataset.customers[c].id.clone(),
                        SERVICES[c % SERVICES.len()],
                    )
                })
                .collect(),
        );
        let channel = customer_channel.clone();
        in_parallel(calls.len(), parallel, move |i| {
            let mut client = CustomerServiceClient::new(channel.clone());
            let (bearer, customer_id, service) = calls[i].clone();
            async move {
                let bearer = bearer.ok_or("no partner token")?;
                let request = authed(
                    pb::CreateSubscriptionRequest {
                        subscription: Some(pb::Subscription {
                            customer_id,
                            service: service.to_owned(),
                            offer_name: format!("{service} loadtest offer"),
                            quantity: 10,
                            billing: pb::subscription::Billing::License as i32,
                            channel: pb::subscription::Channel::Csp as i32,
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    },
                    &bearer,
                );
                let reply = client.create_subscription(request).await;
                Ok(reply
                    .map_err(|s| status_error("CreateSubscription", &s))?
                    .into_inner()
                    .id)
            }
        })
        .await?
    };
    for (id, &c) in subscription_ids.into_iter().zip(&subscribed) {
        dataset.customers[c].subscriptions.push(dataset.subscriptions.len());
        dataset.subscriptions.push(SubscriptionRef {
            id,
            partner: Some(planned[c].0),
        });
    }
    step("subscriptions", dataset.subscriptions.len(), started);

    dataset.recompute_largest();
    dataset.check_usable()?;
    Ok(dataset)
}

/// R4, R5: one security group per partner that received a grant, of
/// `GROUP_MEMBERS` users, and on every grant its role assigned to that
/// group, made by the operator.
async fn seed_assignments(
    dataset: &Dataset,
    grants: &[(usize, usize, &'static str)],
    grant_ids: Vec<String>,
    operator: &AsciiMetadataValue,
    channel: &Channel,
    parallel: usize,
) -> Result<(), BoxError> {
    let mut holders: Vec<usize> = grants.iter().map(|&(_, p, _)| p).collect();
    holders.sort_unstable();
    holders.dedup();
    let group_ids = {
        let partner_ids: Arc<Vec<String>> = Arc::new(holders.iter().map(|&p| dataset.partners[p].id.clone()).collect());
        let (channel, operator) = (channel.clone(), operator.clone());
        in_parallel(partner_ids.len(), parallel, move |i| {
            let mut client = RelationshipServiceClient::new(channel.clone());
            let request = authed(
                pb::CreateSecurityGroupRequest {
                    security_group: Some(pb::SecurityGroup {
                        partner_id: partner_ids[i].clone(),
                        display_name: "Loadtest technicians".into(),
                        member_user_ids: (0..GROUP_MEMBERS).map(user_id).collect(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &operator,
            );
            async move {
                let reply = client
                    .create_security_group(request)
                    .await
                    .map_err(|s| status_error("CreateSecurityGroup", &s))?;
                Ok(reply.into_inner().id)
            }
        })
        .await?
    };
    let calls: Arc<Vec<(String, String)>> = Arc::new(
        grants
            .iter()
            .zip(grant_ids)
            .map(|(&(_, p, _), grant_id)| {
                let group = holders
                    .binary_search(&p)
                    .map(|i| group_ids[i].clone())
                    .unwrap_or_default();
                (grant_id, group)
            })
            .collect(),
    );
    let (channel, operator) = (channel.clone(), operator.clone());
    in_parallel(calls.len(), parallel, move |i| {
        let mut client = RelationshipServiceClient::new(channel.clone());
        let (grant_id, group_id) = calls[i].clone();
        let request = authed(
            pb::CreateAccessAssignmentRequest {
                access_assignment: Some(pb::AccessAssignment {
                    grant_id,
                    principal: Some(pb::access_assignment::Principal::SecurityGroupId(group_id)),
                    roles: vec![pb::delegated_admin_grant::Role::HelpdeskAdmin as i32],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &operator,
        );
        async move {
            match client.create_access_assignment(request).await {
                Ok(_) => Ok(()),
                // Two grants the seed drew for one (customer, partner,
                // service) are one grant: its assignment exists already.
                Err(status) if status.code() == tonic::Code::AlreadyExists => Ok(()),
                // A later grant to another transacting partner superseded
                // it (D2): nothing to assign on.
                Err(status) if status.code() == tonic::Code::FailedPrecondition => Ok(()),
                Err(status) => Err(status_error("CreateAccessAssignment", &status)),
            }
        }
    })
    .await?;
    Ok(())
}

/// One unbound invitation with DAP per inviting partner, for the first
/// `limit` direct resellers and providers (the largest, in a seeded set).
pub async fn create_invitations(
    dataset: &mut Dataset,
    channel: &Channel,
    limit: usize,
    parallel: usize,
) -> Result<(), BoxError> {
    let inviters: Vec<usize> = (0..dataset.partners.len())
        .filter(|&i| can_create(dataset.partners[i].kind) && dataset.partners[i].bearer.is_some())
        .take(limit)
        .collect();
    let calls: Arc<Vec<_>> = Arc::new(inviters.iter().map(|&p| dataset.partners[p].bearer.clone()).collect());
    let channel = channel.clone();
    let codes = in_parallel(calls.len(), parallel, move |i| {
        let mut client = RelationshipServiceClient::new(channel.clone());
        let bearer = calls[i].clone();
        async move {
            let bearer = bearer.ok_or("no partner token")?;
            let reply = client
                .create_relationship_request(authed(invitation_request(), &bearer))
                .await;
            Ok(reply
                .map_err(|s| status_error("CreateRelationshipRequest", &s))?
                .into_inner()
                .code)
        }
    })
    .await?;
    dataset.invitations = codes
        .into_iter()
        .zip(inviters)
        .map(|(code, partner)| InvitationRef { code, partner })
        .collect();
    Ok(())
}

/// An unbound invitation with DAP for every service, valid for a year.
pub fn invitation_request() -> pb::CreateRelationshipRequestRequest {
    pb::CreateRelationshipRequestRequest {
        relationship_request: Some(pb::RelationshipRequest {
            include_delegated_admin: true,
            ..Default::default()
        }),
        expire_after_days: 365,
        request_id: String::new(),
    }
}

/// How much of an existing database to learn.
#[derive(Clone, Debug)]
pub struct DiscoverShape {
    /// Partners and customers listed at most.
    pub sample: usize,
    /// Customers whose relationships and subscriptions are read.
    pub detailed: usize,
    pub concurrency: usize,
}

/// Learns ids from an existing database as the service principal:
/// ListPartners, ListCustomers, then relationships and subscriptions of a
/// spread-out sample of customers.
pub async fn discover(channels: &Channels, auth: &Auth, shape: &DiscoverShape) -> Result<Dataset, BoxError> {
    let started = Instant::now();
    let service = auth.service()?;
    let page_size = 1000;

    let mut partners = Vec::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    let mut client = PartnerServiceClient::new(channels.partner[0].clone());
    let mut page_token = String::new();
    while partners.len() < shape.sample {
        let request = pb::ListPartnersRequest {
            page_size,
            page_token,
            ..Default::default()
        };
        let reply = client
            .list_partners(authed(request, &service))
            .await
            .map_err(|s| status_error("ListPartners", &s))?
            .into_inner();
        for partner in reply.partners {
            if partner.status != pb::partner::Status::Active as i32 {
                continue;
            }
            let bearer = if auth.can_mint() {
                Some(auth.partner(&partner.id)?)
            } else {
                None
            };
            index_of.insert(partner.id.clone(), partners.len());
            partners.push(PartnerRef {
                kind: Kind::try_from(partner.kind).unwrap_or(Kind::Unspecified),
                id: partner.id,
                bearer,
            });
        }
        page_token = reply.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    eprintln!(
        "discovery: {} partners ({:.1}s)",
        partners.len(),
        started.elapsed().as_secs_f64()
    );

    let mut customers = Vec::new();
    let mut client = CustomerServiceClient::new(channels.customer[0].clone());
    let mut page_token = String::new();
    while customers.len() < shape.sample {
        let request = pb::ListCustomersRequest {
            page_size,
            page_token,
            ..Default::default()
        };
        let reply = client
            .list_customers(authed(request, &service))
            .await
            .map_err(|s| status_error("ListCustomers", &s))?
            .into_inner();
        for customer in reply.customers {
            let bearer = if auth.can_mint() {
                Some(auth.customer(&customer.id)?)
            } else {
                None
            };
            customers.push(CustomerRef {
                id: customer.id,
                bearer,
                related: Vec::new(),
                subscriptions: Vec::new(),
            });
        }
        page_token = reply.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    customers.truncate(shape.sample);
    eprintln!(
        "discovery: {} customers ({:.1}s)",
        customers.len(),
        started.elapsed().as_secs_f64()
    );

    // Relationships and subscriptions of every k-th customer.
    let stride = customers.len().div_ceil(shape.detailed.max(1)).max(1);
    let detailed: Vec<usize> = (0..customers.len()).step_by(stride).collect();
    let ids: Arc<Vec<String>> = Arc::new(detailed.iter().map(|&c| customers[c].id.clone()).collect());
    let details = {
        let (relationship_channel, customer_channel, service) = (
            channels.relationship[0].clone(),
            channels.customer[0].clone(),
            service.clone(),
        );
        in_parallel(ids.len(), shape.concurrency, move |i| {
            let mut relationships = RelationshipServiceClient::new(relationship_channel.clone());
            let mut subscriptions = CustomerServiceClient::new(customer_channel.clone());
            let customer_id = ids[i].clone();
            let service = service.clone();
            async move {
                let related = relationships
                    .list_customer_relationships(authed(
                        pb::ListCustomerRelationshipsRequest {
                            customer_id: customer_id.clone(),
                            page_size: 100,
                            page_token: String::new(),
                        },
                        &service,
                    ))
                    .await
                    .map_err(|s| status_error("ListCustomerRelationships", &s))?
                    .into_inner();
                let owned = subscriptions
                    .list_subscriptions(authed(
                        pb::ListSubscriptionsRequest {
                            customer_id,
                            page_size: 100,
                            ..Default::default()
                        },
                        &service,
                    ))
                    .await
                    .map_err(|s| status_error("ListSubscriptions", &s))?
                    .into_inner();
                Ok((related, owned))
            }
        })
        .await?
    };
    let mut subscriptions = Vec::new();
    for (&c, (related, owned)) in detailed.iter().zip(details) {
        let active = pb::relationship::State::Active as i32;
        let partner_ids = related
            .relationships
            .iter()
            .filter(|r| r.state == active)
            .map(|r| &r.partner_id)
            .chain(
                related
                    .delegated_admin_grants
                    .iter()
                    .filter(|g| g.state == pb::delegated_admin_grant::State::Active as i32)
                    .map(|g| &g.partner_id),
            );
        for partner_id in partner_ids {
            if let Some(&p) = index_of.get(partner_id)
                && !customers[c].related.contains(&p)
            {
                customers[c].related.push(p);
            }
        }
        for subscription in owned.subscriptions {
            customers[c].subscriptions.push(subscriptions.len());
            subscriptions.push(SubscriptionRef {
                partner: index_of.get(&subscription.partner_of_record_id).copied(),
                id: subscription.id,
            });
        }
    }
    eprintln!(
        "discovery: relationships and subscriptions of {} customers ({:.1}s)",
        detailed.len(),
        started.elapsed().as_secs_f64()
    );
    let mut dataset = Dataset {
        partners,
        customers,
        subscriptions,
        invitations: Vec::new(),
        largest_partner: None,
        service,
        operator: if auth.can_mint() { Some(auth.operator()?) } else { None },
        grants: Vec::new(),
    };
    dataset.recompute_largest();
    dataset.check_usable()?;
    Ok(dataset)
}
