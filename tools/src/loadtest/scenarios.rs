//! The scenarios: what each call of a run asks the server.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

use super::client::{Channels, authed};
use super::dataset::{self, Dataset, SERVICES};
use super::engine::{Outcome, Workload};
use rand::RngExt;
use rand::seq::IndexedRandom;

use super::rng::{self, Rng};
use partnercenter::BoxError;
use partnercenter::api::pb;
use partnercenter::api::pb::check_access_request::Action;
use partnercenter::api::pb::customer_service_client::CustomerServiceClient;
use partnercenter::api::pb::partner::Kind;
use partnercenter::api::pb::relationship_service_client::RelationshipServiceClient;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// CheckAccess as the service principal: the read path other backends
    /// call before every action.
    Check,
    /// The checks of `check`, each for one of the partner's users (R7):
    /// what only grants allow then rests on the seeded group assignments.
    UserCheck,
    /// BatchCheckAccess with --batch-size checks per call.
    BatchCheck,
    /// CheckAccess plus --write-ratio writes: invitations created and
    /// accepted, DAP grants, subscription quantity changes.
    Mixed,
    /// ListCustomers paging through the largest partner's customers.
    List,
    /// AcceptRelationshipRequest only: the heaviest write transaction.
    Accept,
    /// T1, T2: the operator records a DIRECT subscription, the partner
    /// that created the customer proposes to take it over, and the
    /// customer's admin accepts: three writes per call.
    Transfer,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Check => "check",
            Scenario::UserCheck => "user-check",
            Scenario::BatchCheck => "batch-check",
            Scenario::Mixed => "mixed",
            Scenario::List => "list",
            Scenario::Accept => "accept",
            Scenario::Transfer => "transfer",
        }
    }

    /// Whether it acts as partners and customers (and so needs a secret).
    pub fn writes(self) -> bool {
        matches!(self, Scenario::Mixed | Scenario::Accept | Scenario::Transfer)
    }
}

/// Settings of the scenarios.
#[derive(Clone, Debug)]
pub struct Knobs {
    pub batch_size: usize,
    pub page_size: i32,
    pub write_ratio: f64,
    pub seed: u64,
}

/// What every worker of a run shares: the dataset and the connections.
pub struct Ctx {
    pub channels: Channels,
    pub dataset: Dataset,
    pub knobs: Knobs,
    /// Who pages in `list`: the largest partner when its token can be
    /// minted, else the service principal (which sees every customer).
    pub list_as: AsciiMetadataValue,
    /// Partners that may create invitations and whose token we hold.
    inviters: Vec<usize>,
    /// Partners that may receive DAP (D1: not advisors).
    grantees: Vec<usize>,
    /// Next (customer, invitation) pair to accept: each pair is accepted
    /// once, so that every accept is a real write, not an idempotent replay.
    accept_cursor: AtomicU64,
    /// Codes of invitations `mixed` created, waiting to be accepted.
    fresh_codes: Mutex<Vec<String>>,
    /// Customers `transfer` can move a subscription of: their creator (the
    /// first related partner) is a DIRECT_RESELLER or INDIRECT_PROVIDER
    /// whose token we hold.
    transferable: Vec<usize>,
}

/// Codes kept for acceptance at most (bounds memory on long runs).
const MAX_FRESH_CODES: usize = 10_000;

impl Ctx {
    pub fn new(channels: Channels, dataset: Dataset, knobs: Knobs, list_partner: Option<usize>) -> Self {
        let list_as = list_partner
            .or(dataset.largest_partner)
            .and_then(|p| dataset.partners[p].bearer.clone())
            .unwrap_or_else(|| dataset.service.clone());
        let inviters = (0..dataset.partners.len())
            .filter(|&p| {
                let partner = &dataset.partners[p];
                partner.bearer.is_some() && matches!(partner.kind, Kind::DirectReseller | Kind::IndirectProvider)
            })
            .collect();
        let grantees = (0..dataset.partners.len())
            .filter(|&p| dataset.partners[p].kind != Kind::Advisor)
            .collect();
        let transferable = (0..dataset.customers.len())
            .filter(|&c| {
                let customer = &dataset.customers[c];
                customer.bearer.is_some()
                    && customer.related.first().is_some_and(|&p| {
                        let creator = &dataset.partners[p];
                        creator.bearer.is_some()
                            && matches!(creator.kind, Kind::DirectReseller | Kind::IndirectProvider)
                    })
            })
            .collect();
        Ctx {
            channels,
            dataset,
            knobs,
            list_as,
            inviters,
            grantees,
            accept_cursor: AtomicU64::new(0),
            fresh_codes: Mutex::new(Vec::new()),
            transferable,
        }
    }

    /// A typical access question: mostly about a partner that works with
    /// the customer (allowed or not depending on the action), sometimes
    /// about an unrelated one (denied), and one in five about a seeded
    /// grant's partner and service. With `user`, the same question for one
    /// of the partner's users, in its group or not.
    fn random_check(&self, rng: &mut Rng, user: bool) -> pb::CheckAccessRequest {
        let mut check = self.partner_check(rng);
        if user {
            check.user_id = dataset::user_id(rng.random_range(0..dataset::GROUP_MEMBERS + 2));
        }
        check
    }

    fn partner_check(&self, rng: &mut Rng) -> pb::CheckAccessRequest {
        let dataset = &self.dataset;
        if let Some(&(c, p, service)) = dataset.grants.choose(rng).filter(|_| rng.random_bool(0.2)) {
            let action = [Action::View, Action::Support, Action::ReadDirectory][rng.random_range(0..3)];
            return pb::CheckAccessRequest {
                partner_id: dataset.partners[p].id.clone(),
                customer_id: dataset.customers[c].id.clone(),
                action: action as i32,
                service: if action == Action::View {
                    String::new()
                } else {
                    service.to_owned()
                },
                subscription_id: String::new(),
                user_id: String::new(),
            };
        }
        let customer = &dataset.customers[rng.random_range(0..dataset.customers.len())];
        let partner = match customer.related.choose(rng) {
            Some(&related) if rng.random_bool(0.8) => related,
            _ => rng.random_range(0..dataset.partners.len()),
        };
        let service = SERVICES[rng.random_range(0..SERVICES.len())].to_owned();
        let roll = rng.random_range(0..100);
        let subscription = customer
            .subscriptions
            .choose(rng)
            .map(|&s| dataset.subscriptions[s].id.clone());
        let (action, service, subscription_id) = match (roll, subscription) {
            (0..50, _) => (Action::View, String::new(), String::new()),
            (50..70, _) => (Action::Sell, String::new(), String::new()),
            (70..85, _) => (Action::Provision, service, String::new()),
            (85..95, _) => (Action::Support, service, String::new()),
            (_, Some(subscription)) => (Action::ManageSubscription, String::new(), subscription),
            (_, None) => (Action::View, String::new(), String::new()),
        };
        pb::CheckAccessRequest {
            partner_id: dataset.partners[partner].id.clone(),
            customer_id: customer.id.clone(),
            action: action as i32,
            service,
            subscription_id,
            user_id: String::new(),
        }
    }
}

/// One scenario bound to its context.
pub struct ScenarioLoad {
    pub scenario: Scenario,
    pub ctx: Arc<Ctx>,
}

pub struct WorkerState {
    rng: Rng,
    relationships: RelationshipServiceClient<Channel>,
    customers: CustomerServiceClient<Channel>,
    page_token: String,
    /// Which write `mixed` makes next: they take turns.
    write_turn: usize,
}

pub(super) fn outcome<T>(op: &'static str, result: Result<T, tonic::Status>) -> Outcome {
    (op, result.map(|_| ()).map_err(|status| status.code()))
}

impl Workload for ScenarioLoad {
    type State = WorkerState;

    fn state(&self, worker: usize) -> WorkerState {
        let channel = |channels: &[Channel]| channels[worker % channels.len()].clone();
        let channels = &self.ctx.channels;
        WorkerState {
            rng: rng::seeded(self.ctx.knobs.seed ^ (worker as u64).wrapping_mul(0x2545_F491_4F6C_DD1D)),
            relationships: RelationshipServiceClient::new(channel(&channels.relationship)),
            customers: CustomerServiceClient::new(channel(&channels.customer)),
            page_token: String::new(),
            write_turn: worker,
        }
    }

    async fn call(&self, state: &mut WorkerState) -> Outcome {
        match self.scenario {
            Scenario::Check => self.check(state, false).await,
            Scenario::UserCheck => self.check(state, true).await,
            Scenario::BatchCheck => {
                let checks = (0..self.ctx.knobs.batch_size)
                    .map(|_| self.ctx.random_check(&mut state.rng, false))
                    .collect();
                let request = authed(pb::BatchCheckAccessRequest { checks }, &self.ctx.dataset.service);
                outcome(
                    "BatchCheckAccess",
                    state.relationships.batch_check_access(request).await,
                )
            }
            Scenario::List => {
                let request = pb::ListCustomersRequest {
                    page_size: self.ctx.knobs.page_size,
                    page_token: std::mem::take(&mut state.page_token),
                    ..Default::default()
                };
                let reply = state.customers.list_customers(authed(request, &self.ctx.list_as)).await;
                if let Ok(reply) = &reply {
                    // At the end of the list, start over from the top.
                    state.page_token = reply.get_ref().next_page_token.clone();
                }
                outcome("ListCustomers", reply)
            }
            Scenario::Mixed if state.rng.random_bool(self.ctx.knobs.write_ratio) => self.write(state).await,
            Scenario::Mixed => self.check(state, false).await,
            Scenario::Accept => self.accept(state).await,
            Scenario::Transfer => self.transfer(state).await,
        }
    }
}

impl ScenarioLoad {
    async fn check(&self, state: &mut WorkerState, user: bool) -> Outcome {
        let request = authed(self.ctx.random_check(&mut state.rng, user), &self.ctx.dataset.service);
        outcome("CheckAccess", state.relationships.check_access(request).await)
    }

    /// One of the four writes of `mixed`, in turn; one the dataset cannot
    /// make (no subscriptions, say) passes its turn to the next.
    async fn write(&self, state: &mut WorkerState) -> Outcome {
        for _ in 0..4 {
            state.write_turn = state.write_turn.wrapping_add(1);
            let made = match state.write_turn % 4 {
                0 => self.invite(state).await,
                1 => Some(self.accept(state).await),
                2 => self.grant(state).await,
                _ => self.update_subscription(state).await,
            };
            if let Some(outcome) = made {
                return outcome;
            }
        }
        self.check(state, false).await
    }

    async fn invite(&self, state: &mut WorkerState) -> Option<Outcome> {
        let ctx = &self.ctx;
        let inviter = *ctx.inviters.choose(&mut state.rng)?;
        let bearer = ctx.dataset.partners[inviter].bearer.as_ref()?;
        let reply = state
            .relationships
            .create_relationship_request(authed(super::dataset::invitation_request(), bearer))
            .await;
        if let Ok(reply) = &reply
            && let Ok(mut codes) = ctx.fresh_codes.lock()
        {
            if codes.len() < MAX_FRESH_CODES {
                codes.push(reply.get_ref().code.clone());
            } else {
                let slot = state.rng.random_range(0..codes.len());
                codes[slot] = reply.get_ref().code.clone();
            }
        }
        Some(outcome("CreateRelationshipRequest", reply))
    }

    /// I6: a fresh invitation from `mixed` if there is one, else the next
    /// unused (customer, invitation) pair.
    async fn accept(&self, state: &mut WorkerState) -> Outcome {
        let ctx = &self.ctx;
        let dataset = &ctx.dataset;
        let fresh = ctx.fresh_codes.lock().ok().and_then(|mut codes| codes.pop());
        let (customer, code) = match fresh {
            Some(code) => (state.rng.random_range(0..dataset.customers.len()), code),
            None if dataset.invitations.is_empty() => return ("AcceptRelationshipRequest", Err(tonic::Code::Internal)),
            None => {
                let pair = ctx.accept_cursor.fetch_add(1, Ordering::Relaxed) as usize;
                let customers = dataset.customers.len();
                let invitation = (pair / customers) % dataset.invitations.len();
                (pair % customers, dataset.invitations[invitation].code.clone())
            }
        };
        let Some(bearer) = &dataset.customers[customer].bearer else {
            return ("AcceptRelationshipRequest", Err(tonic::Code::Unauthenticated));
        };
        let request = authed(pb::AcceptRelationshipRequestRequest { code }, bearer);
        outcome(
            "AcceptRelationshipRequest",
            state.relationships.accept_relationship_request(request).await,
        )
    }

    /// T1, T2: a DIRECT subscription recorded, proposed by the customer's
    /// creator (transacting: C1) and accepted by the customer's admin.
    async fn transfer(&self, state: &mut WorkerState) -> Outcome {
        const OP: &str = "CreateTransfer+AcceptTransfer";
        let ctx = &self.ctx;
        let dataset = &ctx.dataset;
        let Some(&c) = ctx.transferable.choose(&mut state.rng) else {
            return (OP, Err(tonic::Code::FailedPrecondition));
        };
        let customer = &dataset.customers[c];
        let creator = customer
            .related
            .first()
            .and_then(|&p| dataset.partners[p].bearer.as_ref());
        let (Some(admin), Some(creator), Some(operator)) = (&customer.bearer, creator, &dataset.operator) else {
            return (OP, Err(tonic::Code::Unauthenticated));
        };
        let record = pb::CreateSubscriptionRequest {
            subscription: Some(pb::Subscription {
                customer_id: customer.id.clone(),
                service: SERVICES[state.rng.random_range(0..SERVICES.len())].to_owned(),
                offer_name: "transfer loadtest offer".into(),
                quantity: 5,
                billing: pb::subscription::Billing::License as i32,
                channel: pb::subscription::Channel::Direct as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        };
        let subscription = match state.customers.create_subscription(authed(record, operator)).await {
            Ok(reply) => reply.into_inner().id,
            Err(status) => return ("CreateSubscription", Err(status.code())),
        };
        let propose = pb::CreateTransferRequest {
            customer_id: customer.id.clone(),
            subscription_ids: vec![subscription],
            partner_of_record_id: String::new(),
            request_id: String::new(),
        };
        let transfer = match state.customers.create_transfer(authed(propose, creator)).await {
            Ok(reply) => reply.into_inner().id,
            Err(status) => return ("CreateTransfer", Err(status.code())),
        };
        let accept = pb::AcceptTransferRequest {
            id: transfer,
            etag: String::new(),
        };
        outcome(OP, state.customers.accept_transfer(authed(accept, admin)).await)
    }

    /// D1: a customer's admin grants DAP to some partner.
    async fn grant(&self, state: &mut WorkerState) -> Option<Outcome> {
        let dataset = &self.ctx.dataset;
        let customer = &dataset.customers[state.rng.random_range(0..dataset.customers.len())];
        let bearer = customer.bearer.as_ref()?;
        let partner = *self.ctx.grantees.choose(&mut state.rng)?;
        let request = pb::GrantDelegatedAdminRequest {
            partner_id: dataset.partners[partner].id.clone(),
            service: SERVICES[state.rng.random_range(0..SERVICES.len())].to_owned(),
            scopes: vec![
                pb::delegated_admin_grant::Scope::Provisioning as i32,
                pb::delegated_admin_grant::Scope::Support as i32,
            ],
            duration_days: 365,
            ..Default::default()
        };
        let reply = state.relationships.grant_delegated_admin(authed(request, bearer)).await;
        Some(outcome("GrantDelegatedAdmin", reply))
    }

    /// S3: the partner of record (or the operator) changes a quantity.
    async fn update_subscription(&self, state: &mut WorkerState) -> Option<Outcome> {
        let dataset = &self.ctx.dataset;
        let subscription = dataset.subscriptions.choose(&mut state.rng)?;
        let bearer = subscription
            .partner
            .and_then(|p| dataset.partners[p].bearer.as_ref())
            .or(dataset.operator.as_ref())?;
        let request = pb::UpdateSubscriptionRequest {
            subscription: Some(pb::Subscription {
                id: subscription.id.clone(),
                quantity: state.rng.random_range(1..=500),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["quantity".into()],
            }),
        };
        let reply = state.customers.update_subscription(authed(request, bearer)).await;
        Some(outcome("UpdateSubscription", reply))
    }
}

/// Refuses a scenario the dataset or the credentials cannot drive.
pub fn check_feasible(scenario: Scenario, ctx: &Ctx, can_mint: bool) -> Result<(), BoxError> {
    if scenario.writes() && !can_mint {
        return Err(format!(
            "--scenario {} acts as partners and customers: give --secret (or --secret-file)",
            scenario.name()
        )
        .into());
    }
    if scenario == Scenario::Transfer && (ctx.transferable.is_empty() || ctx.dataset.operator.is_none()) {
        return Err(
            "--scenario transfer needs the operator's token and customers created by partners whose tokens it can mint"
                .into(),
        );
    }
    if scenario == Scenario::Accept && ctx.dataset.invitations.is_empty() {
        return Err("--scenario accept needs invitations, and no partner may create them".into());
    }
    Ok(())
}
