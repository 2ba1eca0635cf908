//! One valid `gateway_dns` record: a query from a user or location of an account, its
//! resolver decision, and the DNS answers (wire-format RRs as base64, a JSON text copy).

use super::json::{
    write_base64, write_datetime, write_hex, write_str, write_str_bytes, write_u64, KeyFilter,
    Record,
};
use super::pools::{
    below, between, chance, choose, pick, weighted, Account, Asker, AskerOdds, Device, Domain, Ip,
    Location, Pools, Rng, User, APPS, CATEGORIES, CAT_CDN, CAT_CONTENT_SERVERS, COLOS, FEEDS, GEOS,
};

/// Who asks a query: the source address is the location's, else the user's.
const ODDS: AskerOdds = AskerOdds {
    user: 700,
    no_device: 50,
    location: 350,
    user_source: 0,
};

/// One answer RR: ranges into [`Scratch::wire`] and [`Scratch::text`].
struct Ans {
    rtype: u16,
    ttl: u32,
    owner: (usize, usize),
    wire: (usize, usize),
    rdata: (usize, usize),
    ip: bool,
    geo: usize,
}

/// Reusable per-record buffers.
pub(crate) struct Scratch {
    wire: Vec<u8>,
    text: Vec<u8>,
    answers: Vec<Ans>,
    json: Vec<u8>,
    name: String,
    name_wire: Vec<u8>,
    cats: Vec<u16>,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            wire: Vec::with_capacity(1024),
            text: Vec::with_capacity(1024),
            answers: Vec::with_capacity(16),
            json: Vec::with_capacity(1024),
            name: String::with_capacity(128),
            name_wire: Vec::with_capacity(128),
            cats: Vec::with_capacity(8),
        }
    }

    fn clear(&mut self) {
        self.wire.clear();
        self.text.clear();
        self.answers.clear();
        self.json.clear();
        self.name.clear();
        self.name_wire.clear();
        self.cats.clear();
    }

    fn text(&self, r: (usize, usize)) -> &[u8] {
        &self.text[r.0..r.1]
    }

    /// Appends one RR: owner (wire + text), type, ttl, rdata (wire + text pieces).
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        owner_wire: &[u8],
        owner: &[u8],
        rtype: u16,
        ttl: u32,
        rdata: &[u8],
        rdata_text: &[&[u8]],
        ip: bool,
        geo: usize,
    ) {
        let w0 = self.wire.len();
        self.wire.extend_from_slice(owner_wire);
        self.wire.extend_from_slice(&rtype.to_be_bytes());
        self.wire.extend_from_slice(&1u16.to_be_bytes());
        self.wire.extend_from_slice(&ttl.to_be_bytes());
        self.wire
            .extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        self.wire.extend_from_slice(rdata);
        let o0 = self.text.len();
        self.text.extend_from_slice(owner);
        let r0 = self.text.len();
        for p in rdata_text {
            self.text.extend_from_slice(p);
        }
        self.answers.push(Ans {
            rtype,
            ttl,
            owner: (o0, r0),
            wire: (w0, self.wire.len()),
            rdata: (r0, self.text.len()),
            ip,
            geo,
        });
    }
}

/// (QueryType, QueryTypeName, weight).
const QTYPES: &[(u16, &str, u32)] = &[
    (1, "A", 500),
    (28, "AAAA", 250),
    (65, "HTTPS", 120),
    (5, "CNAME", 8),
    (15, "MX", 15),
    (16, "TXT", 30),
    (2, "NS", 6),
    (6, "SOA", 5),
    (33, "SRV", 8),
    (64, "SVCB", 5),
];

fn type_name(t: u16) -> &'static str {
    match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        64 => "SVCB",
        65 => "HTTPS",
        _ => "TYPE0",
    }
}

/// Resolver decisions: (name, blocked, from a policy).
const DEC_NO_MATCH: (&str, bool, bool) = ("allowedOnNoPolicyMatch", false, false);
const DEC_BY_CATEGORY: (&str, bool, bool) = ("blockedByCategory", true, true);
const DEC_OTHERS: [((&str, bool, bool), u32); 8] = [
    (("blockedByQueryName", true, true), 15),
    (("allowedByQueryName", false, true), 30),
    (("blockedAlwaysCategory", true, true), 4),
    (("allowedOnNoLocation", false, false), 10),
    (("allowedRedirect", false, true), 3),
    (("overrideForSafeSearch", false, true), 4),
    (("blockedByIndicatorFeed", true, true), 3),
    (("resolvedByCustomResolver", false, true), 6),
];

const DOH_V4: &[&str] = &["172.64.36.1", "172.64.36.2", "162.159.36.1", "162.159.46.1"];
const DOH_V6: &[&str] = &[
    "2a06:98c1:54::1f",
    "2a06:98c1:54::c",
    "2606:4700:4700::1111",
];

/// A Logpush job's field list: (keep-function, weight). Most jobs select a subset of fields.
pub(crate) const PROFILES: [(KeyFilter, u32); 3] =
    [(keep_minimal, 30), (keep_standard, 55), (|_| true, 15)];

fn keep_minimal(k: &str) -> bool {
    matches!(
        k,
        "AccountID"
            | "ColoCode"
            | "Datetime"
            | "DeviceName"
            | "DstIP"
            | "DstPort"
            | "Email"
            | "IsResponseCached"
            | "Location"
            | "PolicyID"
            | "PolicyName"
            | "Protocol"
            | "QueryCategoryIDs"
            | "QueryCategoryNames"
            | "QueryName"
            | "QuerySize"
            | "QueryType"
            | "QueryTypeName"
            | "RCode"
            | "ResolvedIPs"
            | "ResolverDecision"
            | "ResourceRecords"
            | "ResponseTimeMs"
            | "SrcIP"
            | "SrcPort"
            | "UserID"
    )
}

fn keep_standard(k: &str) -> bool {
    !matches!(
        k,
        "AppliedMaxTTL"
            | "AuthoritativeNameServerIPs"
            | "CNAMECategoryIDs"
            | "CNAMECategoryNames"
            | "CNAMEsReversed"
            | "CustomResolveDurationMs"
            | "CustomResolverAddress"
            | "CustomResolverPolicyID"
            | "CustomResolverPolicyName"
            | "CustomResolverResponse"
            | "DoTSubdomain"
            | "InitialCategoryIDs"
            | "InitialCategoryNames"
            | "InitialResolvedIPs"
            | "InternalDNSDurationMs"
            | "InternalDNSFallbackStrategy"
            | "InternalDNSRCode"
            | "InternalDNSViewID"
            | "InternalDNSZoneID"
            | "MatchedIndicatorFeedIDs"
            | "MatchedIndicatorFeedNames"
            | "Policy"
            | "QueryApplicationIDs"
            | "QueryApplicationNames"
            | "QueryIndicatorFeedIDs"
            | "QueryIndicatorFeedNames"
            | "RData"
            | "RedirectTargetURI"
            | "RequestContextCategoryIDs"
            | "RequestContextCategoryNames"
            | "ResolvedIPCategoryIDs"
            | "ResolvedIPCategoryNames"
            | "ResolvedIPContinentCodes"
            | "ResourceRecordsJSON"
            | "RegistrationID"
            | "ApplicationID"
            | "ApplicationName"
            | "CNAMEs"
            | "DoHSubdomain"
            | "TenantID"
            | "TimeZone"
            | "TimeZoneInferredMethod"
    )
}

/// What one record is about, drawn before any field is written: who asks (account, user,
/// device, location, source address), the query, and the resolver's decision.
#[derive(Clone, Copy)]
struct Query<'a> {
    secs: i64,
    nanos: u32,
    acct: &'a Account,
    user: Option<&'a User>,
    device: Option<&'a Device>,
    loc: Option<&'a Location>,
    src: &'a Ip,
    dom: &'a Domain,
    qtype: u16,
    qtype_name: &'static str,
    /// The name is made up for this record (PTR, root), not a pooled domain.
    dynamic: bool,
    protocol: &'static str,
    decision: (&'static str, bool, bool),
    blocked: bool,
    rcode: u16,
    cached: bool,
    custom: bool,
    /// The domain's categories (none for a made-up name).
    cats: &'a [u16],
}

/// Writes one record: the query is drawn, its answers built, then each group of fields
/// in reference order (the draws from `rng` in this order make a seed's bytes).
pub(crate) fn fill(rng: &mut Rng, p: &Pools, rec: &mut Record, sc: &mut Scratch, time: (i64, u32)) {
    sc.clear();
    let q = draw(rng, p, sc, time);
    if q.rcode == 0 {
        answers(rng, q.dom, q.qtype, q.decision.0, q.blocked, q.cached, sc);
    }
    identity(rng, p, rec, &q);
    cnames(rng, rec, sc, &q);
    colo_and_custom_resolver(rng, rec, &q);
    time_device_and_destination(rng, rec, &q);
    initial_categories_and_internal_dns(rng, rec, sc, &q);
    matches_policies_and_query_categories(rng, rec, sc, &q);
    query_and_resolved_ips(rng, rec, sc, &q);
    resolver_and_records(rng, rec, sc, &q);
    source_and_time_zone(rng, rec, sc, &q);
}

/// Draws who asks what and how the resolver decides; a made-up name goes to `sc.name`.
fn draw<'a>(rng: &mut Rng, p: &'a Pools, sc: &mut Scratch, (secs, nanos): (i64, u32)) -> Query<'a> {
    sc.clear();
    let Asker {
        acct,
        user,
        device,
        loc,
        src,
    } = Asker::draw(rng, p, &ODDS);
    let dom: &Domain = p.domain(rng);
    let (qtype, qtype_name) = draw_query_type(rng, sc);
    let dynamic = !sc.name.is_empty();
    let protocol = choose(
        rng,
        &[
            "udp", "udp", "udp", "udp", "udp", "https", "https", "https", "tls", "tcp",
        ],
    );
    let decision = draw_decision(rng, dom, dynamic);
    let blocked = decision.1;
    let rcode = draw_rcode(rng, dom, blocked, dynamic);
    let cached = chance(rng, 550);
    let custom = decision.0 == "resolvedByCustomResolver";
    let cats: &[u16] = if dynamic { &[] } else { &dom.cats };
    Query {
        secs,
        nanos,
        acct,
        user,
        device,
        loc,
        src,
        dom,
        qtype,
        qtype_name,
        dynamic,
        protocol,
        decision,
        blocked,
        rcode,
        cached,
        custom,
        cats,
    }
}

/// Draws the query type: rarely a PTR or root NS query, whose made-up name goes to
/// `sc.name` (its wire form to `sc.name_wire`); else by [`QTYPES`] weight.
fn draw_query_type(rng: &mut Rng, sc: &mut Scratch) -> (u16, &'static str) {
    let special = below(rng, 1000);
    let (qtype, qtype_name) = if special < 15 {
        use std::fmt::Write;
        let _ = write!(
            sc.name,
            "{}.{}.{}.{}.in-addr.arpa",
            below(rng, 256),
            below(rng, 256),
            below(rng, 256),
            between(rng, 1, 223)
        );
        (12u16, "PTR")
    } else if special < 17 {
        sc.name.push('.');
        (2, "NS")
    } else {
        let (t, n, _) = QTYPES[weighted(rng, &QTYPE_WEIGHTS)];
        (t, n)
    };
    if !sc.name.is_empty() {
        super::pools::name_wire(&sc.name, &mut sc.name_wire);
    }
    (qtype, qtype_name)
}

/// Draws the resolver decision: by category for (mostly security) categorised names, else
/// sometimes another by weight (safe search only for search engines), else no match.
fn draw_decision(rng: &mut Rng, dom: &Domain, dynamic: bool) -> (&'static str, bool, bool) {
    let by_category = !dynamic
        && ((dom.security && chance(rng, 800)) || (!dom.cats.is_empty() && chance(rng, 45)));
    if by_category {
        DEC_BY_CATEGORY
    } else if chance(rng, 70) {
        let w: [u32; 8] = DEC_OTHERS.map(|d| d.1);
        let d = DEC_OTHERS[weighted(rng, &w)].0;
        if d.0 == "overrideForSafeSearch"
            && !(dom.name.contains("google")
                || dom.name.contains("youtube")
                || dom.name.contains("bing"))
        {
            DEC_NO_MATCH
        } else {
            d
        }
    } else {
        DEC_NO_MATCH
    }
}

/// Draws the response code: mostly NOERROR, NXDOMAIN more often for security names.
fn draw_rcode(rng: &mut Rng, dom: &Domain, blocked: bool, dynamic: bool) -> u16 {
    if blocked {
        choose(rng, &[0, 0, 0, 0, 0, 0, 3, 5])
    } else if dynamic {
        choose(rng, &[0, 0, 3])
    } else {
        let r = [0u16, 3, 2, 5][weighted(rng, &[920, 55, 18, 7])];
        if dom.security && r == 0 && chance(rng, 300) {
            3
        } else {
            r
        }
    }
}

/// AccountID to AuthoritativeNameServerIPs: the account and the application.
fn identity(rng: &mut Rng, p: &Pools, rec: &mut Record, q: &Query) {
    let Query {
        acct,
        dom,
        dynamic,
        rcode,
        cached,
        ..
    } = *q;
    let esc = rec.esc;
    rec.str("AccountID", &acct.id);
    match dom.app.filter(|_| !dynamic) {
        Some(a) => {
            rec.int("ApplicationID", u64::from(APPS[a as usize].0));
            rec.str("ApplicationName", APPS[a as usize].1);
        }
        None => {
            rec.int_or_zero("ApplicationID", 0);
            rec.opt_str("ApplicationName", "");
        }
    }
    rec.int_or_zero("AppliedMaxTTL", if chance(rng, 20) { 3600 } else { 0 });
    if !cached && rcode == 0 && chance(rng, 150) {
        let n = between(rng, 1, 2);
        let s = rec.begin();
        rec.buf.push(b'[');
        for i in 0..n {
            if i > 0 {
                rec.buf.push(b',');
            }
            write_str(&mut rec.buf, pick(rng, &p.ns_ips).as_str(), esc);
        }
        rec.buf.push(b']');
        rec.end("AuthoritativeNameServerIPs", s);
    } else {
        rec.empty_list("AuthoritativeNameServerIPs");
    }
}

/// The CNAME fields.
fn cnames(rng: &mut Rng, rec: &mut Record, sc: &mut Scratch, q: &Query) {
    let Query { dom, .. } = *q;
    let esc = rec.esc;
    let has_cname = sc.answers.iter().any(|a| a.rtype == 5);
    if has_cname {
        let cat = if chance(rng, 500) {
            CAT_CONTENT_SERVERS
        } else {
            CAT_CDN
        };
        write_categories(rec, "CNAMECategoryIDs", "CNAMECategoryNames", &[cat]);
        sc.cats.push(cat);
        let cname = dom.cname.as_deref().unwrap_or("");
        rec.str_list("CNAMEs", [cname]);
        let s = rec.begin();
        rec.buf.push(b'[');
        write_reversed(&mut rec.buf, cname, esc);
        rec.buf.push(b']');
        rec.end("CNAMEsReversed", s);
    } else {
        rec.empty_list("CNAMECategoryIDs");
        rec.empty_list("CNAMECategoryNames");
        rec.empty_list("CNAMEs");
        rec.empty_list("CNAMEsReversed");
    }
}

/// ColoCode to CustomResolverResponse.
fn colo_and_custom_resolver(rng: &mut Rng, rec: &mut Record, q: &Query) {
    let Query {
        acct, src, custom, ..
    } = *q;
    let colo = colo_for(rng, src.geo);
    rec.str("ColoCode", colo.0);
    rec.int("ColoID", u64::from(colo.1));
    if custom {
        rec.int("CustomResolveDurationMs", u64::from(between(rng, 2, 400)));
        rec.str(
            "CustomResolverAddress",
            choose(
                rng,
                &[
                    "10.0.0.53:53",
                    "192.168.1.1:53",
                    "[fd00::53]:53",
                    "172.16.4.2:5353",
                ],
            ),
        );
        if chance(rng, 300) {
            let pol = pick(rng, &acct.dns_policies);
            rec.str("CustomResolverPolicyID", &pol.id);
            rec.str("CustomResolverPolicyName", pol.name);
        } else {
            rec.opt_str("CustomResolverPolicyID", "");
            rec.opt_str("CustomResolverPolicyName", "");
        }
        rec.str(
            "CustomResolverResponse",
            choose(rng, &["success", "success", "success", "timeout", "error"]),
        );
    } else {
        rec.int_or_zero("CustomResolveDurationMs", 0);
        rec.opt_str("CustomResolverAddress", "");
        rec.opt_str("CustomResolverPolicyID", "");
        rec.opt_str("CustomResolverPolicyName", "");
        rec.opt_str("CustomResolverResponse", "");
    }
}

/// Datetime to Email.
fn time_device_and_destination(rng: &mut Rng, rec: &mut Record, q: &Query) {
    let Query {
        secs,
        nanos,
        user,
        device,
        loc,
        src,
        protocol,
        blocked,
        rcode,
        ..
    } = *q;
    let s = rec.begin();
    write_datetime(&mut rec.buf, secs, nanos, super::json::time_format(rng));
    rec.end("Datetime", s);
    match device {
        Some(d) => {
            rec.str("DeviceID", &d.id);
            rec.str("DeviceName", &d.name);
        }
        None => {
            rec.opt_str("DeviceID", "");
            rec.opt_str("DeviceName", "");
        }
    }
    let doh = loc.map(|l| l.doh.as_str()).unwrap_or("");
    rec.opt_str("DoHSubdomain", if protocol == "https" { doh } else { "" });
    rec.opt_str("DoTSubdomain", if protocol == "tls" { doh } else { "" });
    if chance(rng, 30) {
        rec.raw("DstIP", b"\"\"");
    } else {
        rec.str(
            "DstIP",
            if src.v6 {
                choose(rng, DOH_V6)
            } else {
                choose(rng, DOH_V4)
            },
        );
    }
    let dport = match protocol {
        "https" => 443,
        "tls" => 853,
        _ => 53,
    };
    rec.int("DstPort", if chance(rng, 100) { 0 } else { dport });
    let ede: &[u64] = match rcode {
        2 => choose(rng, &[&[22u64][..], &[2][..], &[23][..], &[9, 22][..]]),
        3 if blocked => &[15],
        5 => &[18],
        _ if blocked => choose(rng, &[&[][..], &[15][..], &[17][..]]),
        _ if chance(rng, 10) => &[3],
        _ => &[],
    };
    rec.int_list("EDEErrors", ede.iter().copied());
    rec.opt_str("Email", user.map(|u| u.email.as_str()).unwrap_or(""));
}

/// InitialCategoryIDs to LocationID.
fn initial_categories_and_internal_dns(rng: &mut Rng, rec: &mut Record, sc: &Scratch, q: &Query) {
    let Query {
        loc,
        rcode,
        cached,
        cats,
        ..
    } = *q;
    write_categories(rec, "InitialCategoryIDs", "InitialCategoryNames", cats);
    if chance(rng, 80) && sc.answers.iter().any(|a| a.ip) {
        write_ip_list(rec, sc, "InitialResolvedIPs");
    } else {
        rec.empty_list("InitialResolvedIPs");
    }
    if chance(rng, 15) {
        rec.int("InternalDNSDurationMs", u64::from(between(rng, 1, 80)));
        rec.opt_str(
            "InternalDNSFallbackStrategy",
            choose(rng, &["", "publicDns", "internalDnsOnly"]),
        );
        rec.int("InternalDNSRCode", u64::from(rcode));
        rec.str(
            "InternalDNSViewID",
            choose(rng, &["f1e2d3c4b5a6978899aabbccddeeff00", "default-view"]),
        );
        rec.str(
            "InternalDNSZoneID",
            choose(rng, &["9a8b7c6d5e4f30211203f4e5d6c7b8a9", "corp.internal"]),
        );
    } else {
        rec.int_or_zero("InternalDNSDurationMs", 0);
        rec.opt_str("InternalDNSFallbackStrategy", "");
        rec.int_or_zero("InternalDNSRCode", 0);
        rec.opt_str("InternalDNSViewID", "");
        rec.opt_str("InternalDNSZoneID", "");
    }
    rec.bool("IsResponseCached", cached);
    match loc {
        Some(l) => {
            rec.str("Location", l.name);
            rec.str("LocationID", &l.id);
        }
        None => {
            rec.opt_str("Location", "");
            rec.opt_str("LocationID", "");
        }
    }
}

/// MatchedCategoryIDs to QueryIndicatorFeedNames.
fn matches_policies_and_query_categories(
    rng: &mut Rng,
    rec: &mut Record,
    sc: &mut Scratch,
    q: &Query,
) {
    let Query {
        acct,
        dom,
        dynamic,
        protocol,
        decision,
        blocked,
        cats,
        ..
    } = *q;
    if decision == DEC_BY_CATEGORY && !cats.is_empty() {
        let m = &cats[..1 + below(rng, cats.len() as u32) as usize];
        write_categories(rec, "MatchedCategoryIDs", "MatchedCategoryNames", m);
    } else {
        rec.empty_list("MatchedCategoryIDs");
        rec.empty_list("MatchedCategoryNames");
    }
    let feed = if decision.0 == "blockedByIndicatorFeed" || (dom.security && chance(rng, 300)) {
        Some(pick(rng, FEEDS))
    } else {
        None
    };
    write_feed(
        rec,
        "MatchedIndicatorFeedIDs",
        "MatchedIndicatorFeedNames",
        feed.filter(|_| blocked),
    );
    policy(rng, rec, acct, decision.2);
    rec.str("Protocol", protocol);
    match dom.app.filter(|_| !dynamic) {
        Some(a) => {
            rec.int_list("QueryApplicationIDs", [u64::from(APPS[a as usize].0)]);
            rec.str_list("QueryApplicationNames", [APPS[a as usize].1]);
        }
        None => {
            rec.empty_list("QueryApplicationIDs");
            rec.empty_list("QueryApplicationNames");
        }
    }
    // Union of initial and CNAME categories.
    for &c in cats {
        if !sc.cats.contains(&c) {
            sc.cats.push(c);
        }
    }
    write_categories(rec, "QueryCategoryIDs", "QueryCategoryNames", &sc.cats);
    let s = rec.begin();
    rec.buf.push(b'"');
    write_hex(&mut rec.buf, rng, 16);
    rec.buf.push(b'"');
    rec.end("QueryID", s);
    write_feed(
        rec,
        "QueryIndicatorFeedIDs",
        "QueryIndicatorFeedNames",
        feed,
    );
}

/// Policy, PolicyID and PolicyName: one of the account's DNS policies when the decision
/// came `from_policy`.
fn policy(rng: &mut Rng, rec: &mut Record, acct: &Account, from_policy: bool) {
    if from_policy {
        let pol = pick(rng, &acct.dns_policies);
        if chance(rng, 400) {
            rec.str("Policy", &pol.id);
        } else {
            rec.opt_str("Policy", "");
        }
        rec.str("PolicyID", &pol.id);
        rec.str("PolicyName", pol.name);
    } else {
        rec.opt_str("Policy", "");
        rec.opt_str("PolicyID", "");
        rec.opt_str("PolicyName", "");
    }
}

/// The `ids` and `names` lists of an indicator feed (empty without one).
fn write_feed(
    rec: &mut Record,
    ids: &'static str,
    names: &'static str,
    feed: Option<&(u32, &str)>,
) {
    match feed {
        Some(f) => {
            rec.int_list(ids, [u64::from(f.0)]);
            rec.str_list(names, [f.1]);
        }
        None => {
            rec.empty_list(ids);
            rec.empty_list(names);
        }
    }
}

/// The `ids` and `names` lists of categories `cats`.
fn write_categories(rec: &mut Record, ids: &'static str, names: &'static str, cats: &[u16]) {
    rec.int_list(
        ids,
        cats.iter().map(|&c| u64::from(CATEGORIES[c as usize].0)),
    );
    rec.str_list(names, cats.iter().map(|&c| CATEGORIES[c as usize].1));
}

/// QueryName to ResolvedIPs.
fn query_and_resolved_ips(rng: &mut Rng, rec: &mut Record, sc: &Scratch, q: &Query) {
    let Query {
        device,
        qtype,
        qtype_name,
        decision,
        blocked,
        rcode,
        ..
    } = *q;
    query_name(rng, rec, sc, q);
    rec.int("QuerySize", query_size(rng, sc, q) as u64);
    rec.int("QueryType", u64::from(qtype));
    rec.str("QueryTypeName", qtype_name);
    rec.int("RCode", u64::from(rcode));
    let rdata_deprecated = chance(rng, 100);
    if rdata_deprecated {
        write_rr_objects(rec, sc, "RData");
    } else {
        rec.empty_list("RData");
    }
    if decision.0 == "allowedRedirect" {
        rec.str(
            "RedirectTargetURI",
            "https://blocked.example.com/?reason=policy&lang=de",
        );
    } else {
        rec.opt_str("RedirectTargetURI", "");
    }
    rec.opt_str(
        "RegistrationID",
        device.map(|d| d.registration_id.as_str()).unwrap_or(""),
    );
    if chance(rng, 20) {
        let c = below(rng, 41) as u16;
        write_categories(
            rec,
            "RequestContextCategoryIDs",
            "RequestContextCategoryNames",
            &[c],
        );
    } else {
        rec.empty_list("RequestContextCategoryIDs");
        rec.empty_list("RequestContextCategoryNames");
    }
    resolved_ips(rng, rec, sc, blocked);
}

/// QueryName (sometimes in DNS 0x20 mixed case) and QueryNameReversed.
fn query_name(rng: &mut Rng, rec: &mut Record, sc: &Scratch, q: &Query) {
    let Query { dom, dynamic, .. } = *q;
    let esc = rec.esc;
    let qname: &str = if dynamic { &sc.name } else { &dom.name };
    let s = rec.begin();
    if chance(rng, 10) {
        // DNS 0x20 case randomisation.
        let q0 = rec.buf.len();
        write_str(&mut rec.buf, qname, esc);
        for b in &mut rec.buf[q0..] {
            if b.is_ascii_lowercase() && chance(rng, 500) {
                *b = b.to_ascii_uppercase();
            }
        }
    } else {
        write_str(&mut rec.buf, qname, esc);
    }
    rec.end("QueryName", s);
    let s = rec.begin();
    if dynamic {
        write_reversed(&mut rec.buf, qname, esc);
    } else {
        write_str(&mut rec.buf, &dom.reversed, esc);
    }
    rec.end("QueryNameReversed", s);
}

/// The query message's size: header, name, type and class, sometimes an EDNS OPT record,
/// and DoH padding.
fn query_size(rng: &mut Rng, sc: &Scratch, q: &Query) -> usize {
    let qwire = if q.dynamic {
        sc.name_wire.len()
    } else {
        q.dom.wire.len()
    };
    12 + qwire
        + 4
        + if chance(rng, 800) { 11 } else { 0 }
        + if q.protocol == "https" {
            below(rng, 96) as usize
        } else {
            0
        }
}

/// ResolvedIPCategoryIDs to ResolvedIPs: the IP answers' category, continents, countries
/// and addresses.
fn resolved_ips(rng: &mut Rng, rec: &mut Record, sc: &Scratch, blocked: bool) {
    let any_ip = sc.answers.iter().any(|a| a.ip);
    if any_ip && !blocked && chance(rng, 300) {
        write_categories(
            rec,
            "ResolvedIPCategoryIDs",
            "ResolvedIPCategoryNames",
            &[CAT_CONTENT_SERVERS],
        );
    } else {
        rec.empty_list("ResolvedIPCategoryIDs");
        rec.empty_list("ResolvedIPCategoryNames");
    }
    if any_ip {
        let ips = || sc.answers.iter().filter(|a| a.ip);
        rec.str_list(
            "ResolvedIPContinentCodes",
            ips().map(|a| GEOS[a.geo].0.continent),
        );
        rec.str_list(
            "ResolvedIPCountryCodes",
            ips().map(|a| GEOS[a.geo].0.country),
        );
        write_ip_list(rec, sc, "ResolvedIPs");
    } else {
        rec.empty_list("ResolvedIPContinentCodes");
        rec.empty_list("ResolvedIPCountryCodes");
        rec.empty_list("ResolvedIPs");
    }
}

/// ResolverDecision to ResourceRecordsJSON.
fn resolver_and_records(rng: &mut Rng, rec: &mut Record, sc: &mut Scratch, q: &Query) {
    let Query {
        acct,
        decision,
        custom,
        ..
    } = *q;
    let esc = rec.esc;
    rec.str("ResolverDecision", decision.0);
    if custom || chance(rng, 10) {
        let pol = pick(rng, &acct.dns_policies);
        rec.str("ResolverPolicyID", &pol.id);
        rec.str("ResolverPolicyName", pol.name);
    } else {
        rec.opt_str("ResolverPolicyID", "");
        rec.opt_str("ResolverPolicyName", "");
    }
    write_rr_objects(rec, sc, "ResourceRecords");
    // ResourceRecordsJSON: a string holding JSON text.
    if rec.wants("ResourceRecordsJSON") && (!sc.answers.is_empty() || chance(rng, rec.p_empty)) {
        sc.json.clear();
        sc.json.push(b'[');
        for (i, a) in sc.answers.iter().enumerate() {
            if i > 0 {
                sc.json.push(b',');
            }
            sc.json.extend_from_slice(b"{\"name\":");
            write_str_bytes(&mut sc.json, &sc.text[a.owner.0..a.owner.1], esc);
            sc.json.extend_from_slice(b",\"type\":\"");
            sc.json.extend_from_slice(type_name(a.rtype).as_bytes());
            sc.json.extend_from_slice(b"\",\"class\":\"IN\",\"ttl\":");
            write_u64(&mut sc.json, u64::from(a.ttl));
            sc.json.extend_from_slice(b",\"rdata\":");
            write_str_bytes(&mut sc.json, &sc.text[a.rdata.0..a.rdata.1], esc);
            sc.json.push(b'}');
        }
        sc.json.push(b']');
        let s = rec.begin();
        write_str_bytes(&mut rec.buf, &sc.json, esc);
        rec.end("ResourceRecordsJSON", s);
    }
}

/// ResponseTimeMs to UserID.
fn source_and_time_zone(rng: &mut Rng, rec: &mut Record, sc: &Scratch, q: &Query) {
    let Query {
        acct,
        user,
        src,
        protocol,
        cached,
        ..
    } = *q;
    let rt = if cached {
        between(rng, 0, 3)
    } else if chance(rng, 20) {
        between(rng, 500, 5000)
    } else {
        between(rng, 4, 250)
    };
    rec.int("ResponseTimeMs", u64::from(rt));
    rec.ip("SrcIP", &src.text, src.v6);
    rec.str("SrcIPContinentCode", GEOS[src.geo].0.continent);
    rec.str("SrcIPCountryCode", GEOS[src.geo].0.country);
    let sport = if protocol == "udp" && chance(rng, 850) {
        between(rng, 1024, 65535)
    } else if chance(rng, 500) {
        0
    } else {
        between(rng, 32768, 60999)
    };
    rec.int("SrcPort", u64::from(sport));
    rec.opt_str("TenantID", acct.tenant_id);
    if chance(rng, 20) {
        rec.str(
            "TimeZone",
            choose(
                rng,
                &[
                    "America/New_York",
                    "Europe/Berlin",
                    "Asia/Tokyo",
                    "America/Sao_Paulo",
                    "UTC",
                ],
            ),
        );
        rec.str(
            "TimeZoneInferredMethod",
            choose(rng, &["fromRuleSettings", "fromUserIp", "fromLocalTime"]),
        );
    } else {
        rec.opt_str("TimeZone", "");
        rec.opt_str("TimeZoneInferredMethod", "");
    }
    rec.int_list(
        "UpstreamRecordTTLs",
        sc.answers.iter().map(|a| u64::from(a.ttl)),
    );
    rec.opt_str("UserID", user.map(|u| u.id.as_str()).unwrap_or(""));
}

const QTYPE_WEIGHTS: [u32; 10] = {
    let mut w = [0u32; 10];
    let mut i = 0;
    while i < 10 {
        w[i] = QTYPES[i].2;
        i += 1;
    }
    w
};

/// A colo near `geo` (same country when there is one).
fn colo_for(rng: &mut Rng, geo: usize) -> (&'static str, u32) {
    let n = COLOS.iter().filter(|c| c.2 == geo).count() as u32;
    if n == 0 || chance(rng, 50) {
        let c = pick(rng, COLOS);
        return (c.0, c.1);
    }
    let k = below(rng, n) as usize;
    COLOS
        .iter()
        .filter(|c| c.2 == geo)
        .nth(k)
        .map(|c| (c.0, c.1))
        .unwrap_or((COLOS[0].0, COLOS[0].1))
}

/// Writes `["ip",...]` of the IP answers.
fn write_ip_list(rec: &mut Record, sc: &Scratch, key: &'static str) {
    let s = rec.begin();
    rec.buf.push(b'[');
    let mut first = true;
    for a in sc.answers.iter().filter(|a| a.ip) {
        if !first {
            rec.buf.push(b',');
        }
        first = false;
        write_str_bytes(&mut rec.buf, sc.text(a.rdata), rec.esc);
    }
    rec.buf.push(b']');
    rec.end(key, s);
}

/// Writes `[{"type":"1","data":"<base64>"},...]`.
fn write_rr_objects(rec: &mut Record, sc: &Scratch, key: &'static str) {
    let s = rec.begin();
    rec.buf.push(b'[');
    for (i, a) in sc.answers.iter().enumerate() {
        if i > 0 {
            rec.buf.push(b',');
        }
        rec.buf.extend_from_slice(b"{\"type\":\"");
        write_u64(&mut rec.buf, u64::from(a.rtype));
        rec.buf.extend_from_slice(b"\",\"data\":\"");
        write_base64(&mut rec.buf, &sc.wire[a.wire.0..a.wire.1]);
        rec.buf.extend_from_slice(b"\"}");
    }
    rec.buf.push(b']');
    rec.end(key, s);
}

/// Writes `name` with its labels reversed as a JSON string (`.` stays `.`).
fn write_reversed(out: &mut Vec<u8>, name: &str, esc: super::json::Escape) {
    if name == "." {
        write_str(out, ".", esc);
        return;
    }
    let mut tmp = [0u8; 256];
    let mut n = 0;
    for (i, label) in name.rsplit('.').enumerate() {
        let l = label.as_bytes();
        let need = l.len() + usize::from(i > 0);
        if n + need > tmp.len() {
            break;
        }
        if i > 0 {
            tmp[n] = b'.';
            n += 1;
        }
        tmp[n..n + l.len()].copy_from_slice(l);
        n += l.len();
    }
    write_str_bytes(out, &tmp[..n], esc);
}

/// Builds the answer section for a NOERROR response.
#[allow(clippy::too_many_arguments)]
fn answers(
    rng: &mut Rng,
    dom: &Domain,
    qtype: u16,
    decision: &str,
    blocked: bool,
    cached: bool,
    sc: &mut Scratch,
) {
    let age = if cached {
        below(rng, dom.ttl.max(1))
    } else {
        0
    };
    let ttl = dom.ttl - age;
    if qtype == 12 {
        ptr_answer(rng, sc, age);
    } else if qtype == 2 && sc.name == "." {
        root_ns_answers(rng, sc, age);
    } else if blocked {
        sinkhole_answer(sc, dom, qtype);
    } else if decision == "overrideForSafeSearch" {
        safe_search_answers(sc, dom, qtype, ttl);
    } else {
        let owner = cname_answer(sc, dom, qtype, ttl);
        records(rng, dom, qtype, owner, ttl, sc);
    }
}

/// The PTR answer for the made-up reverse name in `sc.name`: one of two ISP host names.
fn ptr_answer(rng: &mut Rng, sc: &mut Scratch, age: u32) {
    let owner = std::mem::take(&mut sc.name_wire);
    let name = std::mem::take(&mut sc.name);
    let mut rd = Vec::new();
    let host = if chance(rng, 500) {
        "host-203-0-113-7.isp.example.net"
    } else {
        "dsl-pool.telekom.example"
    };
    super::pools::name_wire(host, &mut rd);
    sc.push(
        &owner,
        name.as_bytes(),
        12,
        3600 - age.min(3599),
        &rd,
        &[host.as_bytes()],
        false,
        0,
    );
    sc.name_wire = owner;
    sc.name = name;
}

/// The NS answers for the root: two to four of `a..d.root-servers.net`.
fn root_ns_answers(rng: &mut Rng, sc: &mut Scratch, age: u32) {
    let owner = std::mem::take(&mut sc.name_wire);
    for r in ["a", "b", "c", "d"]
        .iter()
        .take(between(rng, 2, 4) as usize)
    {
        let mut host = [0u8; 20];
        let h = format_root(&mut host, r);
        let mut rd = Vec::with_capacity(24);
        super::pools::name_wire(
            std::str::from_utf8(h).unwrap_or("a.root-servers.net"),
            &mut rd,
        );
        sc.push(&owner, b".", 2, 518_400 - age, &rd, &[h], false, 0);
    }
    sc.name_wire = owner;
}

/// A blocked A or AAAA query's unspecified-address answer (none for other types).
fn sinkhole_answer(sc: &mut Scratch, dom: &Domain, qtype: u16) {
    let qn = dom.name.as_bytes();
    match qtype {
        1 => sc.push(&dom.wire, qn, 1, 60, &[0, 0, 0, 0], &[b"0.0.0.0"], true, 0),
        28 => sc.push(&dom.wire, qn, 28, 60, &[0; 16], &[b"::"], true, 0),
        _ => {}
    }
}

/// Safe search: a CNAME to `forcesafesearch.google.com`, and its address for an A query.
fn safe_search_answers(sc: &mut Scratch, dom: &Domain, qtype: u16, ttl: u32) {
    let target = "forcesafesearch.google.com";
    let mut tw = Vec::with_capacity(32);
    super::pools::name_wire(target, &mut tw);
    sc.push(
        &dom.wire,
        dom.name.as_bytes(),
        5,
        ttl,
        &tw,
        &[target.as_bytes()],
        false,
        0,
    );
    if qtype == 1 {
        sc.push(
            &tw,
            target.as_bytes(),
            1,
            ttl,
            &[216, 239, 38, 120],
            &[b"216.239.38.120"],
            true,
            0,
        );
    }
}

/// The domain's CNAME answer when it has one and `qtype` follows it; returns the owner
/// (wire, text) of the records that follow: the CNAME target, else the name itself.
fn cname_answer<'a>(
    sc: &mut Scratch,
    dom: &'a Domain,
    qtype: u16,
    ttl: u32,
) -> (&'a [u8], &'a [u8]) {
    let qn = dom.name.as_bytes();
    match &dom.cname {
        Some(c) if matches!(qtype, 1 | 28 | 5 | 65) => {
            sc.push(
                &dom.wire,
                qn,
                5,
                ttl,
                &dom.cname_wire,
                &[c.as_bytes()],
                false,
                0,
            );
            (&dom.cname_wire, c.as_bytes())
        }
        _ => (&dom.wire, qn),
    }
}

/// The answer records of a `qtype` query for `dom` whose records live `ttl` (capped behind a
/// CNAME), owned by `owner` (wire, text: the name, or its CNAME target).
fn records(
    rng: &mut Rng,
    dom: &Domain,
    qtype: u16,
    owner: (&[u8], &[u8]),
    ttl: u32,
    sc: &mut Scratch,
) {
    let ttl2 = if dom.cname.is_some() {
        ttl.min(300)
    } else {
        ttl
    };
    match qtype {
        1 => address_records(sc, owner, 1, ttl2, &dom.v4, &dom.v4_text, dom.ip_geo),
        28 => address_records(sc, owner, 28, ttl2, &dom.v6, &dom.v6_text, dom.ip_geo),
        65 => https_record(sc, owner, dom, ttl2),
        15 => mx_records(rng, sc, dom, ttl),
        16 => txt_records(rng, sc, dom, ttl),
        2 => ns_records(sc, dom, dom.ttl - ttl),
        6 => soa_record(sc, dom, ttl),
        _ => {}
    }
}

/// One A (`rtype` 1) or AAAA (28) record per address in `ips` (text in `texts`), located in `geo`.
fn address_records<const N: usize>(
    sc: &mut Scratch,
    (owner_wire, owner): (&[u8], &[u8]),
    rtype: u16,
    ttl: u32,
    ips: &[[u8; N]],
    texts: &[String],
    geo: usize,
) {
    for (ip, t) in ips.iter().zip(texts) {
        sc.push(
            owner_wire,
            owner,
            rtype,
            ttl,
            ip,
            &[t.as_bytes()],
            true,
            geo,
        );
    }
}

/// The HTTPS record: priority 1, target ".", alpn=h3,h2, and up to two IPv4 hints.
fn https_record(sc: &mut Scratch, (owner_wire, owner): (&[u8], &[u8]), dom: &Domain, ttl: u32) {
    let mut rd = Vec::with_capacity(48);
    rd.extend_from_slice(&[0, 1, 0, 0, 1, 0, 6, 2, b'h', b'3', 2, b'h', b'2']);
    let n4 = dom.v4.len().min(2);
    if n4 > 0 {
        rd.extend_from_slice(&[0, 4, 0, (4 * n4) as u8]);
        for ip in &dom.v4[..n4] {
            rd.extend_from_slice(ip);
        }
    }
    let mut text: [&[u8]; 5] = [b"1 . alpn=\"h3,h2\"", b"", b"", b"", b""];
    if n4 > 0 {
        text[1] = b" ipv4hint=";
        text[2] = dom.v4_text[0].as_bytes();
        if n4 > 1 {
            text[3] = b",";
            text[4] = dom.v4_text[1].as_bytes();
        }
    }
    sc.push(owner_wire, owner, 65, ttl, &rd, &text, false, 0);
}

/// One to three MX records (Google's mail exchangers).
fn mx_records(rng: &mut Rng, sc: &mut Scratch, dom: &Domain, ttl: u32) {
    for (pref, host) in [
        (1u16, "aspmx.l.google.com"),
        (5, "alt1.aspmx.l.google.com"),
        (10, "alt2.aspmx.l.google.com"),
    ]
    .iter()
    .take(between(rng, 1, 3) as usize)
    {
        let mut rd = Vec::with_capacity(32);
        rd.extend_from_slice(&pref.to_be_bytes());
        super::pools::name_wire(host, &mut rd);
        let mut pb = itoa::Buffer::new();
        let ps = pb.format(*pref).as_bytes().to_vec();
        sc.push(
            &dom.wire,
            dom.name.as_bytes(),
            15,
            ttl,
            &rd,
            &[&ps, b" ", host.as_bytes()],
            false,
            0,
        );
    }
}

/// One to three TXT records (SPF, DMARC, site verifications).
fn txt_records(rng: &mut Rng, sc: &mut Scratch, dom: &Domain, ttl: u32) {
    const TXT: &[&str] = &[
        "v=spf1 include:_spf.google.com include:mailgun.org ~all",
        "google-site-verification=Xq3kL0pZ8vT2yR5wN1mB7cJ4hG6fD9sA0eU2iO3pQ",
        "MS=ms58294731",
        "v=DMARC1; p=reject; rua=mailto:dmarc@example.com",
        "docusign=1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901",
        "apple-domain-verification=\\\"quoted\\\" token",
    ];
    for _ in 0..between(rng, 1, 3) {
        let t = choose(rng, TXT);
        let mut rd = Vec::with_capacity(t.len() + 1);
        rd.push(t.len().min(255) as u8);
        rd.extend_from_slice(&t.as_bytes()[..t.len().min(255)]);
        sc.push(
            &dom.wire,
            dom.name.as_bytes(),
            16,
            ttl,
            &rd,
            &[b"\"", t.as_bytes(), b"\""],
            false,
            0,
        );
    }
}

/// The two Cloudflare NS records, a day's TTL less the cache `age`.
fn ns_records(sc: &mut Scratch, dom: &Domain, age: u32) {
    for h in ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"] {
        let mut rd = Vec::with_capacity(24);
        super::pools::name_wire(h, &mut rd);
        sc.push(
            &dom.wire,
            dom.name.as_bytes(),
            2,
            86_400 - age.min(86_399),
            &rd,
            &[h.as_bytes()],
            false,
            0,
        );
    }
}

/// A fixed SOA record.
fn soa_record(sc: &mut Scratch, dom: &Domain, ttl: u32) {
    let mut rd = Vec::with_capacity(64);
    super::pools::name_wire("ns1.example-dns.net", &mut rd);
    super::pools::name_wire("hostmaster.example-dns.net", &mut rd);
    for v in [2_026_112_301u32, 10_000, 2_400, 604_800, 1_800] {
        rd.extend_from_slice(&v.to_be_bytes());
    }
    sc.push(
        &dom.wire,
        dom.name.as_bytes(),
        6,
        ttl,
        &rd,
        &[b"ns1.example-dns.net. hostmaster.example-dns.net. 2026112301 10000 2400 604800 1800"],
        false,
        0,
    );
}

/// `X.root-servers.net` into `buf`.
fn format_root<'a>(buf: &'a mut [u8; 20], letter: &str) -> &'a [u8] {
    let l = letter.as_bytes().first().copied().unwrap_or(b'a');
    buf[0] = l;
    buf[1..18].copy_from_slice(b".root-servers.net");
    &buf[..18]
}
