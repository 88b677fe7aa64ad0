//! `partnercenter-load seed`: bulk-loads a deterministic synthetic dataset
//! straight into the store, in large write transactions that still append
//! every row's event (E1), so the events table and `event_audience` are what
//! the same changes made through the API would have produced.
//!
//! The dataset follows the rules a real history would have obeyed:
//! - partners of every kind; indirect resellers linked to providers (P2);
//! - each customer created by a DIRECT_RESELLER or INDIRECT_PROVIDER (C1):
//!   a RESELLER relationship, and DAP for every service with both scopes to
//!   the creator, or to a linked indirect reseller that also gets an
//!   INDIRECT_RESELLER relationship; about 1% bought directly (C2);
//! - some customers accepted another partner's reusable invitation without
//!   DAP (I6, M1), so D2 never has to supersede anything;
//! - CSP subscriptions whose partner of record is transacting (S1, S2), and
//!   a few ADVISOR subscriptions with their ADVISOR relationship (S1).
//!
//! Customers are spread Pareto-like: the first `--large-partners` partners
//! hold `--large-share` of them, the rest follow a power law.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt;
use rand::seq::IndexedRandom;

use crate::loadtest::progress;
use crate::loadtest::rng::{self, Rng, Skewed};
use partnercenter::BoxError;
use partnercenter::config::Config;
use partnercenter::domain::clock::SystemClock;
use partnercenter::domain::model::*;
use partnercenter::domain::rules;
use partnercenter::outbound::SecretSealer;
use partnercenter::store::bulk::{
    BulkAcceptance, BulkCounts, CustomerBundle, analyze, audience_rows_after, event_counter,
};
use partnercenter::store::{Store, StoreOptions, new_id};

#[derive(clap::Args, Debug)]
pub struct SeedArgs {
    /// Partners to create (every kind; the first ones are the large ones).
    #[arg(long, default_value_t = 100)]
    pub partners: usize,
    /// Customers to create.
    #[arg(long, default_value_t = 10_000)]
    pub customers: usize,
    /// Seed of the generator: the same seed gives the same dataset (names,
    /// domains, distribution); ids and times are new. It also tags domains
    /// and MPN ids, so datasets of different seeds can share a database.
    #[arg(long, default_value_t = 20_240_601)]
    pub seed: u64,
    /// Customers per write transaction (each brings about seven rows and as
    /// many events).
    #[arg(long, default_value_t = 5_000)]
    pub batch: usize,
    /// How many of the first partners are very large.
    #[arg(long, default_value_t = 3)]
    pub large_partners: usize,
    /// The share of customers the large partners create between them.
    #[arg(long, default_value_t = 0.5)]
    pub large_share: f64,
}

/// The events' actor.
const ACTOR: &str = "operator:seed";
/// Customers that bought directly from the cloud operator (C2).
const DIRECT_SHARE: f64 = 0.01;
/// Customers of an indirect provider created for one of its resellers.
const VIA_RESELLER_SHARE: f64 = 0.6;
/// Customers that also accepted a second partner's invitation (M1).
const SECOND_PARTNER_SHARE: f64 = 0.15;
/// Customers with a second CSP subscription.
const SECOND_SUBSCRIPTION_SHARE: f64 = 0.35;
/// Customers with an ADVISOR subscription (S1).
const ADVISOR_SHARE: f64 = 0.03;
/// Customers of the first transaction, before ANALYZE.
const WARM_UP_BATCH: usize = 500;
/// The power-law exponent of the partners outside the large ones.
const ZIPF_EXPONENT: f64 = 1.1;

pub async fn run(config: &Config, args: SeedArgs) -> Result<(), BoxError> {
    validate(&args)?;
    let started = Instant::now();
    let store = Store::open(
        &StoreOptions {
            url: config.store.database_url.clone(),
            // One connection: ANALYZE below must inform the connection
            // that writes.
            max_connections: 1,
            acquire_timeout: config.store.acquire_timeout,
            statement_timeout: config.store.statement_timeout,
            // A bulk load inserts all over large indexes (the audience's
            // partner_id, seq above all); with the serving default most
            // of those pages would be written out and read back per batch.
            sqlite_page_cache_mib: 1024,
        },
        Arc::new(SystemClock),
    )
    .await?
    // I3: the invitations' codes sealed as the server seals them, with the
    // key it derives from the same configuration.
    .with_secret_box(Arc::new(SecretSealer::from_key(&config.webhook_key_material()?)?));
    let seq_before = event_counter(&store).await?;
    let mut rng = rng::seeded(args.seed);

    println!(
        "seed: {} partners ({} large holding {:.0}%), {} customers, seed {}, {} customers per transaction, into {}",
        args.partners,
        args.large_partners.min(args.partners),
        args.large_share * 100.0,
        args.customers,
        args.seed,
        args.batch,
        partnercenter::config::redact_url(&config.store.database_url)
    );

    // Partners, links and one reusable invitation per creator: one transaction.
    let mut tx = store.begin_write(ACTOR.to_owned()).await?;
    let world = World::generate(&args, &mut rng, tx.now())?;
    if tx.partner_by_mpn_id(&world.partners[0].mpn_id).await?.is_some() {
        return Err(format!(
            "the database already holds the partners of seed {} (MPN id {}); use another --seed",
            args.seed, world.partners[0].mpn_id
        )
        .into());
    }
    let first_domain = customer_domain(0, args.seed);
    if tx.customer_by_domain(&first_domain).await?.is_some() {
        return Err(format!(
            "the database already holds customers of seed {}; use another --seed",
            args.seed
        )
        .into());
    }
    for partner in &world.partners {
        tx.insert_partner(partner).await?;
    }
    for link in &world.links {
        tx.insert_link(link).await?;
    }
    for invitation in world.invitations.iter().flatten() {
        tx.insert_invitation(invitation).await?;
    }
    let partner_events = (world.partners.len() + world.links.len() + world.invitations.iter().flatten().count()) as u64;
    tx.commit().await?;
    println!(
        "partners: {} ({} direct resellers, {} indirect providers, {} indirect resellers, {} advisors), {} links, {} invitations",
        world.partners.len(),
        world.count(PartnerKind::DirectReseller),
        world.count(PartnerKind::IndirectProvider),
        world.count(PartnerKind::IndirectReseller),
        world.count(PartnerKind::Advisor),
        world.links.len(),
        world.invitations.iter().flatten().count(),
    );

    // Customers, in batches of one transaction each.
    let mut totals = BulkCounts::default();
    let mut per_partner = vec![0u64; world.partners.len()];
    let mut generation = Duration::ZERO;
    let mut writing = Duration::ZERO;
    let mut committing = Duration::ZERO;
    let mut last_report = Instant::now();
    let customers_started = Instant::now();
    let mut index = 0;
    // How many customers the store held at the last ANALYZE (0: none yet).
    let mut analyzed_at = 0;
    let mut analyzing = Duration::ZERO;
    let bar = progress::bar(
        Some(args.customers as u64),
        "customers {wide_bar} {human_pos}/{human_len} {per_sec} ETA {eta} {msg}",
    );
    while index < args.customers {
        // A small first batch, then ANALYZE: without statistics SQLite looks
        // up a customer's grants in the commit's audience query through
        // grants_expiry (every ACTIVE grant) instead of by customer.
        let size = if analyzed_at > 0 {
            args.batch
        } else {
            args.batch.min(WARM_UP_BATCH)
        };
        let end = (index + size).min(args.customers);
        let step = Instant::now();
        let mut tx = store.begin_write(ACTOR.to_owned()).await?;
        let bundles: Vec<CustomerBundle> = (index..end)
            .map(|i| world.customer(i, args.seed, &mut rng, tx.now(), &mut per_partner))
            .collect();
        let generated = Instant::now();
        generation += generated - step;
        let counts = tx.insert_customer_bundles(bundles).await?;
        let written = Instant::now();
        writing += written - generated;
        tx.commit().await?;
        committing += written.elapsed();
        totals.add(counts);
        index = end;
        // ANALYZE again each time the store has doubled: with statistics
        // of a store a tenth its size, the planner reads the audience
        // query's 500 customers by scanning whole indexes of relationships
        // and grants instead of seeking each (at 470,000 customers, 0.3 s
        // a statement, ten statements a transaction).
        if index >= 2 * analyzed_at {
            let started = Instant::now();
            analyze(&store).await?;
            analyzing += started.elapsed();
            analyzed_at = index;
        }
        bar.set_position(index as u64);
        bar.set_message(format!("{} events", totals.events));
        // Without a terminal (a log), a line every few seconds instead.
        if bar.is_hidden() && (last_report.elapsed() >= Duration::from_secs(5) || index == args.customers) {
            last_report = Instant::now();
            let seconds = customers_started.elapsed().as_secs_f64();
            println!(
                "  {index:>9} / {} customers, {:>10} events, {:7.1} s, {:8.0} customers/s",
                args.customers,
                totals.events,
                seconds,
                index as f64 / seconds.max(1e-9)
            );
        }
    }
    bar.finish_and_clear();
    let customer_seconds = customers_started.elapsed().as_secs_f64();
    // Statistics of the final dataset, for the planner of every later
    // connection (the server's).
    let analyze_started = Instant::now();
    analyze(&store).await?;
    println!("ANALYZE: {:.1} s", analyze_started.elapsed().as_secs_f64());

    let seq_after = event_counter(&store).await?;
    let audience = audience_rows_after(&store, seq_before).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let events = (seq_after - seq_before) as u64;
    let rows = world.partners.len() as u64
        + world.links.len() as u64
        + world.invitations.iter().flatten().count() as u64
        + totals.rows();
    println!("done in {elapsed:.1} s");
    println!("  partners              {:>10}", world.partners.len());
    println!("  partner_links         {:>10}", world.links.len());
    println!(
        "  relationship_requests {:>10}",
        world.invitations.iter().flatten().count()
    );
    println!("  customers             {:>10}", totals.customers);
    println!("  relationships         {:>10}", totals.relationships);
    println!("  grants                {:>10}", totals.grants);
    println!("  subscriptions         {:>10}", totals.subscriptions);
    println!("  acceptances           {:>10}", totals.acceptances);
    println!(
        "  events                {:>10} (seq {}..={}; recorded {})",
        events,
        seq_before + 1,
        seq_after,
        partner_events + totals.events
    );
    println!("  event_audience        {audience:>10}");
    println!(
        "  {:.0} rows/s ({} resource rows + events + audience rows = {}), {:.0} customers/s",
        (rows + events + audience) as f64 / elapsed.max(1e-9),
        rows,
        rows + events + audience,
        totals.customers as f64 / customer_seconds.max(1e-9)
    );
    println!(
        "  customer batches: generate {:.1} s, insert {:.1} s, commit (events, audience) {:.1} s, ANALYZE as it grew {:.1} s",
        generation.as_secs_f64(),
        writing.as_secs_f64(),
        committing.as_secs_f64(),
        analyzing.as_secs_f64()
    );
    let mut largest: Vec<(usize, u64)> = per_partner.iter().copied().enumerate().collect();
    largest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    println!("  largest partners (customers with a relationship to them):");
    for (i, count) in largest.into_iter().take(5).filter(|(_, count)| *count > 0) {
        let partner = &world.partners[i];
        println!(
            "    {} {:<17} {:>9} ({:.1}%)",
            partner.id,
            partner.kind.as_str(),
            count,
            count as f64 * 100.0 / (totals.customers.max(1)) as f64
        );
    }
    if seq_after - seq_before != (partner_events + totals.events) as i64 {
        return Err(format!(
            "E1 check failed: {} events appended for {} recorded changes",
            seq_after - seq_before,
            partner_events + totals.events
        )
        .into());
    }
    Ok(())
}

fn validate(args: &SeedArgs) -> Result<(), BoxError> {
    if args.partners == 0 || args.partners > 999_999 {
        return Err("--partners must be between 1 and 999999".into());
    }
    if args.batch == 0 {
        return Err("--batch must be at least 1".into());
    }
    if !(0.0..=1.0).contains(&args.large_share) {
        return Err("--large-share must be between 0 and 1".into());
    }
    Ok(())
}

/// Items drawn Zipf-like by their rank.
struct Weighted {
    items: Vec<usize>,
    ranks: Skewed,
}

impl Weighted {
    fn new(items: Vec<usize>, exponent: f64) -> Self {
        let ranks = Skewed::new(items.len(), exponent);
        Weighted { items, ranks }
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn pick(&self, rng: &mut Rng) -> Option<usize> {
        self.items.get(self.ranks.sample(rng)).copied()
    }
}

const COMPANY_WORDS: &[&str] = &[
    "Contoso",
    "Fabrikam",
    "Northwind",
    "Tailspin",
    "Wingtip",
    "Adatum",
    "Litware",
    "Proseware",
    "Woodgrove",
    "Alpine",
    "Coho",
    "Lucerne",
    "Margie",
    "Trey",
    "Relecloud",
    "Humongous",
    "Bellows",
    "Wideworld",
    "Blueyonder",
    "Graphic",
];
const COMPANY_KINDS: &[&str] = &[
    "Trading",
    "Logistics",
    "Software",
    "Health",
    "Foods",
    "Energy",
    "Retail",
    "Media",
    "Consulting",
    "Manufacturing",
];
const CITIES: &[&str] = &[
    "Beijing", "Shanghai", "Shenzhen", "Hangzhou", "Chengdu", "Wuhan", "Nanjing", "Suzhou", "Tianjin", "Xiamen",
];
const PARTNER_KINDS: &[&str] = &["Cloud Services", "Solutions", "Technology", "Digital", "Systems"];
const TLDS: &[&str] = &["cn", "com.cn", "net.cn", "com"];
const FIRST_NAMES: &[&str] = &["Li", "Wei", "Fang", "Na", "Jun", "Min", "Hui", "Lei", "Yan", "Jie"];
const LAST_NAMES: &[&str] = &[
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou",
];

/// A customer's domain: unique per index and seed, lower case (C3), and a
/// function of them alone (so a second run of a seed is detected up front).
fn customer_domain(index: usize, seed: u64) -> String {
    let mut mix = rng::seeded(seed ^ (index as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let company = one_of(&mut mix, COMPANY_WORDS).to_ascii_lowercase();
    let tld = one_of(&mut mix, TLDS);
    let tag = format!("s{seed}");
    format!("{company}-{index}-{tag}.{tld}")
}

/// One word of a constant, non-empty list.
fn one_of(rng: &mut Rng, words: &[&'static str]) -> &'static str {
    words.choose(rng).copied().unwrap_or_default()
}

fn offer(service: Service, rng: &mut Rng) -> (&'static str, Billing, i32) {
    // Seats: heavy-tailed, mostly small tenants.
    let seats = ((1.0 / (1.0 - rng.random::<f64>() * 0.999)).powf(1.3) * 5.0).min(100_000.0) as i32;
    match service {
        Service::Office365 => (
            one_of(
                rng,
                &["Microsoft 365 E3", "Office 365 E1", "Microsoft 365 Business Standard"],
            ),
            Billing::License,
            seats.max(1),
        ),
        Service::Azure => ("Azure plan", Billing::Usage, 1),
        Service::Dynamics365 => (
            one_of(rng, &["Dynamics 365 Sales Enterprise", "Dynamics 365 Customer Service"]),
            Billing::License,
            (seats / 5).max(1),
        ),
    }
}

/// The partners and how customers are spread over them.
struct World {
    partners: Vec<Partner>,
    links: Vec<PartnerLink>,
    /// By partner index: the reusable invitation (no DAP) of a creator.
    invitations: Vec<Option<RelationshipRequest>>,
    /// By partner index: the indirect resellers linked to a provider.
    resellers_of: Vec<Vec<usize>>,
    large: Weighted,
    others: Weighted,
    large_share: f64,
    advisors: Vec<usize>,
}

impl World {
    fn generate(args: &SeedArgs, rng: &mut Rng, now: Micros) -> Result<Self, BoxError> {
        let n = args.partners;
        let large_count = args.large_partners.min(n);
        let mut partners = Vec::with_capacity(n);
        for i in 0..n {
            // The large ones create customers: direct resellers, and an
            // indirect provider second so that a large indirect chain exists.
            let kind = if i < large_count {
                if i % 2 == 1 {
                    PartnerKind::IndirectProvider
                } else {
                    PartnerKind::DirectReseller
                }
            } else {
                match rng.random::<f64>() {
                    u if u < 0.65 => PartnerKind::DirectReseller,
                    u if u < 0.77 => PartnerKind::IndirectProvider,
                    u if u < 0.90 => PartnerKind::IndirectReseller,
                    _ => PartnerKind::Advisor,
                }
            };
            let name = format!(
                "{} {} {}",
                one_of(rng, CITIES),
                one_of(rng, COMPANY_WORDS),
                one_of(rng, PARTNER_KINDS)
            );
            partners.push(Partner {
                id: new_id(),
                mpn_id: format!("{}", 1_000_000_000 + (args.seed % 1000) * 1_000_000 + i as u64),
                display_name: format!("{name} {i}"),
                kind,
                status: PartnerStatus::Active,
                version: 1,
                create_time: now,
                update_time: now,
            });
        }
        let of_kind = |kind: PartnerKind| -> Vec<usize> { (0..n).filter(|i| partners[*i].kind == kind).collect() };
        let providers = of_kind(PartnerKind::IndirectProvider);
        let resellers = of_kind(PartnerKind::IndirectReseller);
        let advisors = of_kind(PartnerKind::Advisor);
        let creators: Vec<usize> = (0..n)
            .filter(|i| {
                matches!(
                    partners[*i].kind,
                    PartnerKind::DirectReseller | PartnerKind::IndirectProvider
                )
            })
            .collect();
        if creators.is_empty() {
            return Err("no partner may create customers; use more --partners".into());
        }

        // P2: each indirect reseller is linked to a provider, round robin so
        // that every provider gets one; some to a second provider.
        let mut links = Vec::new();
        let mut resellers_of = vec![Vec::new(); n];
        if !providers.is_empty() {
            for (k, reseller) in resellers.iter().enumerate() {
                let mut linked = vec![providers[k % providers.len()]];
                if providers.len() > 1 && rng.random_bool(0.3) {
                    let other = providers[(k + 1 + rng.random_range(0..providers.len() - 1)) % providers.len()];
                    linked.push(other);
                }
                for provider in linked {
                    resellers_of[provider].push(*reseller);
                    links.push(PartnerLink {
                        id: new_id(),
                        provider_id: partners[provider].id.clone(),
                        reseller_id: partners[*reseller].id.clone(),
                        state: LinkState::Active,
                        expire_time: None,
                        ended_by: None,
                        end_note: None,
                        version: 1,
                        create_time: now,
                        update_time: now,
                    });
                }
            }
        }

        // I3: one unbound, reusable invitation without DAP per creator.
        let mut invitations = vec![None; n];
        for i in &creators {
            let mut code = [0u8; 32];
            getrandom::fill(&mut code).map_err(|error| format!("no randomness for a code: {error}"))?;
            invitations[*i] = Some(RelationshipRequest {
                id: new_id(),
                inviting_partner_id: partners[*i].id.clone(),
                indirect_reseller_id: None,
                include_delegated_admin: false,
                delegated_admin_services: Vec::new(),
                delegated_admin_scopes: Vec::new(),
                delegated_admin_roles: Vec::new(),
                customer_domain: None,
                code: URL_SAFE_NO_PAD.encode(code),
                state: InvitationState::Active,
                expire_time: now + 365 * MICROS_PER_DAY,
                create_time: now,
            });
        }

        let (large_creators, other_creators): (Vec<usize>, Vec<usize>) =
            creators.iter().partition(|i| **i < large_count);
        let large = Weighted::new(large_creators, 1.0);
        let others = Weighted::new(other_creators, ZIPF_EXPONENT);
        let large_share = if others.is_empty() {
            1.0
        } else if large.is_empty() {
            0.0
        } else {
            args.large_share
        };
        Ok(World {
            partners,
            links,
            invitations,
            resellers_of,
            large,
            others,
            large_share,
            advisors,
        })
    }

    fn count(&self, kind: PartnerKind) -> usize {
        self.partners.iter().filter(|p| p.kind == kind).count()
    }

    fn pick_creator(&self, rng: &mut Rng) -> usize {
        let pool = if rng.random_bool(self.large_share) {
            &self.large
        } else {
            &self.others
        };
        pool.pick(rng).or_else(|| self.large.pick(rng)).unwrap_or(0)
    }

    /// Customer `index`, with what its history would have written.
    fn customer(&self, index: usize, seed: u64, rng: &mut Rng, now: Micros, per_partner: &mut [u64]) -> CustomerBundle {
        let domain = customer_domain(index, seed);
        let word = domain.split('-').next().unwrap_or("contoso");
        let mut company = String::with_capacity(48);
        company.push_str(one_of(rng, CITIES));
        company.push(' ');
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            company.extend(first.to_uppercase());
            company.push_str(chars.as_str());
        }
        company.push(' ');
        company.push_str(one_of(rng, COMPANY_KINDS));
        company.push_str(" Co., Ltd.");
        let english = rng.random_bool(0.2);
        let customer = Customer {
            id: new_id(),
            billing_contact: BillingContact {
                email: format!("admin@{domain}"),
                first_name: one_of(rng, FIRST_NAMES).to_string(),
                last_name: one_of(rng, LAST_NAMES).to_string(),
                culture: if english { "en-US" } else { "zh-CN" }.to_owned(),
                language: if english { "en" } else { "zh" }.to_owned(),
            },
            domain,
            company_name: company,
            version: 1,
            create_time: now,
            update_time: now,
        };
        let customer_id = customer.id.clone();
        let mut bundle = CustomerBundle {
            customer,
            relationships: Vec::new(),
            grants: Vec::new(),
            subscriptions: Vec::new(),
            acceptances: Vec::new(),
        };
        let subscription = |service: Service,
                            channel: Channel,
                            partner_of_record: Option<usize>,
                            indirect_provider: Option<usize>,
                            rng: &mut Rng| {
            let (offer_name, billing, quantity) = offer(service, rng);
            Subscription {
                id: new_id(),
                customer_id: customer_id.clone(),
                service,
                offer_name: offer_name.to_owned(),
                quantity,
                billing,
                status: SubscriptionStatus::Active,
                channel,
                partner_of_record_id: partner_of_record.map(|i| self.partners[i].id.clone()),
                indirect_provider_id: indirect_provider.map(|i| self.partners[i].id.clone()),
                version: 1,
                create_time: now,
                update_time: now,
            }
        };
        let relationship = |partner: usize,
                            kind: RelationshipKind,
                            indirect_provider: Option<usize>,
                            source: RelationshipSource,
                            request: Option<String>| Relationship {
            id: new_id(),
            customer_id: customer_id.clone(),
            partner_id: self.partners[partner].id.clone(),
            kind,
            indirect_provider_id: indirect_provider.map(|i| self.partners[i].id.clone()),
            state: RelationshipState::Active,
            source,
            relationship_request_id: request,
            start_time: now,
            end_time: None,
            end_cause: None,
        };

        let first_service = Service::ALL[rng.random_range(0..Service::ALL.len())];
        if rng.random_bool(DIRECT_SHARE) {
            // C2: bought directly from the cloud operator; no partner.
            bundle
                .subscriptions
                .push(subscription(first_service, Channel::Direct, None, None, rng));
            return bundle;
        }

        // C1: the creator's RESELLER relationship, and DAP to the creator or
        // to the linked indirect reseller it names.
        let creator = self.pick_creator(rng);
        let reseller = match self.resellers_of[creator].as_slice() {
            [] => None,
            linked if rng.random_bool(VIA_RESELLER_SHARE) => linked.choose(rng).copied(),
            _ => None,
        };
        per_partner[creator] += 1;
        if let Some(reseller) = reseller {
            per_partner[reseller] += 1;
        }
        let (relationships, grants) = rules::creator_rights(
            &customer_id,
            &self.partners[creator].id,
            reseller.map(|r| self.partners[r].id.as_str()),
            now,
            new_id,
        );
        bundle.relationships.extend(relationships);
        bundle.grants.extend(grants);

        // I6, M1: a second partner through its reusable invitation, no DAP.
        let mut second = None;
        if rng.random_bool(SECOND_PARTNER_SHARE) {
            for _ in 0..4 {
                let candidate = self.pick_creator(rng);
                if candidate != creator {
                    second = Some(candidate);
                    break;
                }
            }
        }
        if let Some(second) = second
            && let Some(invitation) = &self.invitations[second]
        {
            per_partner[second] += 1;
            let accepted = relationship(
                second,
                RelationshipKind::Reseller,
                None,
                RelationshipSource::Invitation,
                Some(invitation.id.clone()),
            );
            bundle.acceptances.push(BulkAcceptance {
                relationship_request_id: invitation.id.clone(),
                relationship_ids: vec![accepted.id.clone()],
                grant_ids: Vec::new(),
            });
            bundle.relationships.push(accepted);
        }

        // S2: CSP subscriptions by transacting partners: the creator's side
        // (its reseller as partner of record, the provider as
        // indirect_provider_id), then possibly the second partner.
        let (record, provider) = match reseller {
            Some(reseller) => (reseller, Some(creator)),
            None => (creator, None),
        };
        bundle
            .subscriptions
            .push(subscription(first_service, Channel::Csp, Some(record), provider, rng));
        if rng.random_bool(SECOND_SUBSCRIPTION_SHARE) {
            let service = Service::ALL[(first_service as usize + 1 + rng.random_range(0..2)) % Service::ALL.len()];
            let next = match second {
                Some(second) => subscription(service, Channel::Csp, Some(second), None, rng),
                None => subscription(service, Channel::Csp, Some(record), provider, rng),
            };
            bundle.subscriptions.push(next);
        }

        // S1: an ADVISOR subscription gives its partner an ADVISOR relationship.
        if !self.advisors.is_empty()
            && rng.random_bool(ADVISOR_SHARE)
            && let Some(&advisor) = self.advisors.choose(rng)
        {
            per_partner[advisor] += 1;
            let service = Service::ALL[rng.random_range(0..Service::ALL.len())];
            bundle
                .subscriptions
                .push(subscription(service, Channel::Advisor, Some(advisor), None, rng));
            bundle.relationships.push(relationship(
                advisor,
                RelationshipKind::Advisor,
                None,
                RelationshipSource::AdvisorSubscription,
                None,
            ));
        }
        bundle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(seed: u64) -> SeedArgs {
        SeedArgs {
            partners: 40,
            customers: 0,
            seed,
            batch: 1,
            large_partners: 3,
            large_share: 0.5,
        }
    }

    /// The names, kinds, links and creators of a seed, without the ids and
    /// times that are new on every run.
    fn shape(seed: u64) -> (Vec<(String, PartnerKind)>, usize, Vec<usize>) {
        let mut rng = rng::seeded(seed);
        let world = World::generate(&args(seed), &mut rng, 0).unwrap();
        let partners = world
            .partners
            .iter()
            .map(|p| (p.display_name.clone(), p.kind))
            .collect();
        let creators = (0..50).map(|_| world.pick_creator(&mut rng)).collect();
        (partners, world.links.len(), creators)
    }

    #[test]
    fn a_seed_gives_the_same_dataset() {
        assert_eq!(shape(7), shape(7));
        assert_ne!(shape(7), shape(8));
    }

    #[test]
    fn weights_skew_the_picks() {
        let mut rng = rng::seeded(1);
        let weighted = Weighted::new(vec![10, 20, 30], 1.0);
        let mut counts = [0; 3];
        for _ in 0..11_000 {
            let picked = weighted.pick(&mut rng).unwrap_or_default();
            counts[picked / 10 - 1] += 1;
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[2], "{counts:?}");
        assert_eq!(Weighted::new(Vec::new(), 1.0).pick(&mut rng), None);
    }

    #[test]
    fn domains_are_lower_case_and_unique_by_index() {
        let a = customer_domain(1, 3);
        let b = customer_domain(2, 3);
        assert_ne!(a, b);
        assert_eq!(a, customer_domain(1, 3));
        // Pinned: the generator (see `loadtest::rng::Rng`) must not change
        // under a seed without notice.
        assert_eq!(a, "lucerne-1-s3.net.cn");
        assert_eq!(a, a.to_ascii_lowercase());
        assert!(partnercenter::domain::validate::domain("d", &a).is_ok());
    }
}
