//! Deterministic pools the records draw from — accounts, users, devices, locations, policies,
//! domains with their DNS answers, IPs, colos, categories — plus the random helpers and a
//! Zipf sampler. Pools are built from a fixed seed (the same "world" for every generator
//! seed); only the traffic drawn from them depends on the generator's seed. Only integer
//! arithmetic and IEEE basic operations are used, so samples are identical on every platform.

use rand::{RngCore, SeedableRng};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The generator's random source: ChaCha8, stable across platforms and rand versions.
pub(crate) type Rng = rand_chacha::ChaCha8Rng;

/// Seed of the pools ("lakeport").
const WORLD_SEED: u64 = 0x6c61_6b65_706f_7274;

/// Uniform in `0..n` (`n` > 0), Lemire's multiply-shift with rejection (exact).
#[inline]
pub(crate) fn below(rng: &mut Rng, n: u32) -> u32 {
    debug_assert!(n > 0);
    let n = n.max(1);
    loop {
        let m = u64::from(rng.next_u32()) * u64::from(n);
        let lo = m as u32;
        if lo >= n || lo >= n.wrapping_neg() % n {
            return (m >> 32) as u32;
        }
    }
}

/// Uniform in `lo..=hi`.
#[inline]
pub(crate) fn between(rng: &mut Rng, lo: u32, hi: u32) -> u32 {
    if hi <= lo {
        return lo;
    }
    match (hi - lo).checked_add(1) {
        Some(n) => lo + below(rng, n),
        None => rng.next_u32(),
    }
}

/// Uniform in `0..n` for u64 (`n` > 0).
#[inline]
pub(crate) fn below64(rng: &mut Rng, n: u64) -> u64 {
    let n = n.max(1);
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(n);
        let lo = m as u64;
        if lo >= n || lo >= n.wrapping_neg() % n {
            return (m >> 64) as u64;
        }
    }
}

/// True with probability `permille`/1000.
#[inline]
pub(crate) fn chance(rng: &mut Rng, permille: u32) -> bool {
    below(rng, 1000) < permille
}

/// A uniformly chosen element (`items` non-empty).
#[inline]
pub(crate) fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[below(rng, items.len() as u32) as usize]
}

/// A uniformly chosen element, copied (`items` non-empty).
#[inline]
pub(crate) fn choose<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[below(rng, items.len() as u32) as usize]
}

/// Index chosen with integer weights (non-empty, positive sum).
pub(crate) fn weighted(rng: &mut Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut r = below(rng, total.max(1));
    for (i, &w) in weights.iter().enumerate() {
        if r < w {
            return i;
        }
        r -= w;
    }
    weights.len() - 1
}

/// Zipf–Mandelbrot sampler over ranks `0..n`: weight of rank k ∝ 1/(k+q)^(half_s/2).
/// Cumulative integer weights + binary search; built only with IEEE basic operations.
pub(crate) struct Zipf {
    cum: Vec<u64>,
}

impl Zipf {
    pub fn new(n: usize, q: f64, half_s: u32) -> Self {
        let mut cum = Vec::with_capacity(n);
        let mut acc = 0u64;
        for k in 0..n.max(1) {
            let x = k as f64 + q;
            let mut d = 1.0f64;
            for _ in 0..half_s / 2 {
                d *= x;
            }
            if half_s % 2 == 1 {
                d *= x.sqrt();
            }
            acc += ((1u64 << 40) as f64 / d) as u64 + 1;
            cum.push(acc);
        }
        Zipf { cum }
    }

    pub fn sample(&self, rng: &mut Rng) -> usize {
        let total = self.cum.last().copied().unwrap_or(1);
        let r = below64(rng, total);
        self.cum
            .partition_point(|&c| c <= r)
            .min(self.cum.len() - 1)
    }
}

/// A country with its continent.
#[derive(Clone, Copy)]
pub(crate) struct Geo {
    pub country: &'static str,
    pub continent: &'static str,
}

/// Countries with traffic weights.
pub(crate) const GEOS: &[(Geo, u32)] = &[
    (
        Geo {
            country: "US",
            continent: "NA",
        },
        340,
    ),
    (
        Geo {
            country: "DE",
            continent: "EU",
        },
        90,
    ),
    (
        Geo {
            country: "GB",
            continent: "EU",
        },
        80,
    ),
    (
        Geo {
            country: "FR",
            continent: "EU",
        },
        50,
    ),
    (
        Geo {
            country: "CA",
            continent: "NA",
        },
        40,
    ),
    (
        Geo {
            country: "IN",
            continent: "AS",
        },
        60,
    ),
    (
        Geo {
            country: "JP",
            continent: "AS",
        },
        40,
    ),
    (
        Geo {
            country: "BR",
            continent: "SA",
        },
        40,
    ),
    (
        Geo {
            country: "AU",
            continent: "OC",
        },
        30,
    ),
    (
        Geo {
            country: "NL",
            continent: "EU",
        },
        30,
    ),
    (
        Geo {
            country: "SG",
            continent: "AS",
        },
        25,
    ),
    (
        Geo {
            country: "PT",
            continent: "EU",
        },
        15,
    ),
    (
        Geo {
            country: "MX",
            continent: "NA",
        },
        20,
    ),
    (
        Geo {
            country: "ZA",
            continent: "AF",
        },
        10,
    ),
    (
        Geo {
            country: "CH",
            continent: "EU",
        },
        15,
    ),
    (
        Geo {
            country: "PL",
            continent: "EU",
        },
        15,
    ),
    (
        Geo {
            country: "KR",
            continent: "AS",
        },
        15,
    ),
    (
        Geo {
            country: "AR",
            continent: "SA",
        },
        8,
    ),
    (
        Geo {
            country: "NG",
            continent: "AF",
        },
        6,
    ),
    (
        Geo {
            country: "NZ",
            continent: "OC",
        },
        6,
    ),
];

/// Colos (code, id, index into GEOS of its country).
pub(crate) const COLOS: &[(&str, u32, usize)] = &[
    ("SJC", 46, 0),
    ("LAX", 72, 0),
    ("IAD", 20, 0),
    ("ORD", 17, 0),
    ("DFW", 33, 0),
    ("EWR", 55, 0),
    ("SEA", 80, 0),
    ("ATL", 12, 0),
    ("FRA", 397, 1),
    ("DUS", 401, 1),
    ("MUC", 408, 1),
    ("LHR", 116, 2),
    ("MAN", 389, 2),
    ("CDG", 150, 3),
    ("YYZ", 203, 4),
    ("BOM", 285, 5),
    ("DEL", 291, 5),
    ("NRT", 160, 6),
    ("KIX", 174, 6),
    ("GRU", 252, 7),
    ("SYD", 195, 8),
    ("AMS", 128, 9),
    ("SIN", 170, 10),
    ("LIS", 346, 11),
    ("QRO", 511, 12),
    ("JNB", 239, 13),
    ("ZRH", 132, 14),
    ("WAW", 274, 15),
    ("ICN", 181, 16),
    ("EZE", 262, 17),
    ("LOS", 574, 18),
    ("AKL", 220, 19),
];

/// Gateway content and security categories (id, name).
pub(crate) const CATEGORIES: &[(u32, &str)] = &[
    (1, "Ads"),
    (2, "Adult Themes"),
    (3, "Business & Economy"),
    (4, "Education"),
    (5, "Entertainment"),
    (6, "Gambling"),
    (7, "Government & Politics"),
    (8, "Health"),
    (9, "Questionable Content"),
    (10, "Information Technology"),
    (11, "Internet Communication"),
    (12, "Job Search & Careers"),
    (13, "News & Media"),
    (14, "Real Estate"),
    (15, "Religion"),
    (16, "Science"),
    (17, "Shopping & Auctions"),
    (18, "Social Networks"),
    (19, "Society & Lifestyle"),
    (20, "Sports"),
    (21, "Technology"),
    (22, "Travel"),
    (23, "Vehicles"),
    (26, "Blogs"),
    (27, "Content Servers"),
    (28, "Search Engines"),
    (29, "Streaming Audio"),
    (30, "Streaming Video"),
    (31, "Chat"),
    (32, "File Sharing"),
    (34, "Photo Sharing"),
    (35, "Webmail"),
    (63, "Arts"),
    (89, "Economy & Finance"),
    (99, "Gaming"),
    (122, "Business"),
    (129, "Cloud Storage"),
    (133, "Productivity"),
    (163, "Content Delivery Networks"),
    (169, "Artificial Intelligence"),
    (170, "Unknown"),
    // security categories (index >= SECURITY_FROM)
    (68, "Spyware"),
    (80, "Malware"),
    (83, "Phishing"),
    (117, "Command and Control & Botnet"),
    (131, "Cryptomining"),
    (151, "DGA Domains"),
    (153, "Newly Seen Domains"),
    (176, "Spam"),
];

/// First index of a security category in [`CATEGORIES`].
pub(crate) const SECURITY_FROM: usize = 41;
/// Index of "Content Servers" / "Content Delivery Networks".
pub(crate) const CAT_CONTENT_SERVERS: u16 = 24;
pub(crate) const CAT_CDN: u16 = 38;

/// Applications (id, name).
pub(crate) const APPS: &[(u32, &str)] = &[
    (1, "Cloudflare Dashboard"),
    (2, "Google Workspace"),
    (3, "Microsoft 365"),
    (4, "Slack"),
    (5, "Zoom"),
    (6, "GitHub"),
    (7, "Salesforce"),
    (8, "Dropbox"),
    (9, "Box"),
    (10, "Atlassian Jira"),
    (11, "YouTube"),
    (12, "Facebook"),
    (13, "Instagram"),
    (14, "LinkedIn"),
    (15, "Netflix"),
    (16, "Spotify"),
    (17, "WhatsApp"),
    (18, "Discord"),
    (19, "TikTok"),
    (20, "ChatGPT"),
    (21, "Amazon Web Services"),
    (22, "Apple iCloud"),
    (23, "HubSpot"),
    (24, "Twitter / X"),
    (51, "Google Drive"),
    (108, "Claude"),
];

/// Indicator feeds (id, name).
pub(crate) const FEEDS: &[(u32, &str)] = &[
    (7, "Threat Intel – Phishing URLs"),
    (12, "Abuse.ch URLhaus"),
    (28, "Internal \"blocklist\" v2"),
    (41, "DHS AIS feed"),
];

/// Popular names, most popular first (head of the Zipf distribution).
const HEAD_DOMAINS: &[(&str, i16)] = &[
    ("www.google.com", 28),
    ("outlook.office365.com", 3),
    ("login.microsoftonline.com", 3),
    ("graph.microsoft.com", 3),
    ("www.youtube.com", 30),
    ("api.github.com", 6),
    ("fonts.gstatic.com", 27),
    ("i.ytimg.com", 30),
    ("slack.com", 4),
    ("wss-primary.slack.com", 4),
    ("teams.microsoft.com", 3),
    ("www.apple.com", 22),
    ("gateway.icloud.com", 22),
    ("google.com", 28),
    ("clients4.google.com", 28),
    ("safebrowsing.googleapis.com", 28),
    ("update.googleapis.com", 28),
    ("fonts.googleapis.com", 27),
    ("www.googletagmanager.com", 1),
    ("www.google-analytics.com", 1),
    ("ad.doubleclick.net", 1),
    ("connect.facebook.net", 12),
    ("www.facebook.com", 12),
    ("graph.facebook.com", 12),
    ("www.instagram.com", 13),
    ("zoom.us", 5),
    ("us05web.zoom.us", 5),
    ("github.com", 6),
    ("objects.githubusercontent.com", 6),
    ("ocsp.digicert.com", 27),
    ("ocsp.pki.goog", 27),
    ("time.apple.com", 22),
    ("captive.apple.com", 22),
    ("mesu.apple.com", 22),
    ("time.windows.com", 3),
    ("settings-win.data.microsoft.com", 3),
    ("v10.events.data.microsoft.com", 3),
    ("login.live.com", 3),
    ("www.bing.com", -1),
    ("edge.microsoft.com", 3),
    ("www.cloudflare.com", -1),
    ("dash.cloudflare.com", 1),
    ("one.one.one.one", -1),
    ("en.wikipedia.org", -1),
    ("www.reddit.com", -1),
    ("www.linkedin.com", 14),
    ("www.amazon.com", -1),
    ("s3.amazonaws.com", 21),
    ("dynamodb.us-east-1.amazonaws.com", 21),
    ("cdn.jsdelivr.net", -1),
    ("www.netflix.com", 15),
    ("occ-0-1234-999.1.nflxso.net", 15),
    ("open.spotify.com", 16),
    ("api.spotify.com", 16),
    ("www.dropbox.com", 8),
    ("drive.google.com", 51),
    ("docs.google.com", 2),
    ("mail.google.com", 2),
    ("accounts.google.com", 2),
    ("na1.salesforce.com", 7),
    ("app.hubspot.com", 23),
    ("acme.atlassian.net", 10),
    ("api.openai.com", 20),
    ("chatgpt.com", 20),
    ("claude.ai", 108),
    ("www.tiktok.com", 19),
    ("discord.com", 18),
    ("gateway.discord.gg", 18),
    ("web.whatsapp.com", 17),
    ("x.com", 24),
    ("api.twitter.com", 24),
    ("app.box.com", 9),
    ("www.wikipedia.org", -1),
    ("www.nytimes.com", -1),
    ("www.bbc.co.uk", -1),
    ("www.spiegel.de", -1),
    ("xn--mnchen-3ya.de", -1),
    ("www.xn--bcher-kva.example", -1),
];

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "tech", "net", "ve", "zo", "cloud", "data", "shop", "ar", "en", "is",
    "ul", "pro", "go", "bit", "ly", "sta", "tic", "fo", "rum", "news", "lab", "pix", "ex", "um",
    "ta", "qui", "ro", "mar", "ket", "on", "line", "soft", "ware", "box", "hub", "bay", "fi",
    "nan", "ce", "med", "ia", "app", "ser", "vo", "dy", "nix",
];
const TLDS: &[(&str, u32)] = &[
    ("com", 500),
    ("net", 90),
    ("org", 60),
    ("io", 50),
    ("de", 40),
    ("co.uk", 30),
    ("fr", 20),
    ("jp", 15),
    ("com.br", 15),
    ("ru", 10),
    ("cn", 10),
    ("xyz", 12),
    ("app", 10),
    ("dev", 10),
    ("info", 8),
    ("top", 6),
    ("ai", 8),
];
const SUBDOMAINS: &[(&str, u32)] = &[
    ("", 300),
    ("www.", 300),
    ("api.", 60),
    ("cdn.", 50),
    ("static.", 40),
    ("img.", 30),
    ("m.", 20),
    ("mail.", 20),
    ("login.", 15),
    ("assets.", 20),
    ("telemetry.", 15),
    ("eu-west-1.api.", 5),
];
const CNAME_SUFFIXES: &[&str] = &[
    ".cdn.cloudflare.net",
    ".edgekey.net",
    ".cloudfront.net",
    ".azureedge.net",
    ".akamaized.net",
    ".fastly.net",
];
/// IPv4 /16 prefixes of content networks.
const V4_PREFIXES: &[u32] = &[
    0x6810_0000,
    0x6812_0000,
    0xAC40_0000,
    0x8EFA_0000,
    0xACD9_0000,
    0x3400_0000,
    0x3600_0000,
    0x1700_0000,
    0x9765_0000,
    0x0D20_0000,
    0x1440_0000,
    0x2845_0000,
    0xB9C7_0000,
    0x5DB8_0000,
    0x9DF0_0000,
    0x1F0D_0000,
];
/// IPv6 /32 prefixes of content networks and ISPs.
const V6_PREFIXES: &[u128] = &[
    0x2606_4700 << 96,
    0x2a00_1450 << 96,
    0x2607_f8b0 << 96,
    0x2600_9000 << 96,
    0x2a03_2880 << 96,
    0x2620_0001 << 96,
    0x2a02_26f0 << 96,
    0x2001_0db8 << 96,
    0x2600_1700 << 96,
    0x2a01_0598 << 96,
];

const FIRST_NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "zoe", "jose",
    "maria", "chen", "priya", "ahmed", "yuki", "lars", "ines", "kofi", "amara",
];
const LAST_NAMES: &[&str] = &[
    "smith",
    "jones",
    "garcia",
    "muller",
    "schmidt",
    "martin",
    "tanaka",
    "kumar",
    "silva",
    "nguyen",
    "kowalski",
    "rossi",
    "dubois",
    "oconnor",
    "andersson",
    "okafor",
    "lopez",
    "fischer",
    "wang",
    "patel",
];
const DEVICE_TEMPLATES: &[&str] = &[
    "Laptop MB{}",
    "DESKTOP-{}QX",
    "MacBook-Pro-{}",
    "Laptop Zoë {}",
    "iPhone de José {}",
    "Büro-PC {}",
    "ThinkPad X1 🐧 {}",
    "Pixel 8 \"work\" {}",
    "WIN\\LAB-{}",
    "サーバー{}",
    "Chromebook {}",
    "Galaxy S24 {}",
];
const LOCATION_NAMES: &[&str] = &[
    "Office NYC",
    "Büro München",
    "London HQ",
    "São Paulo",
    "Tokyo オフィス",
    "Home",
    "Warehouse \"B\"",
    "Data Center\\East",
    "Paris – La Défense",
    "Remote\tVPN",
    "Branch 12",
    "Zürich Lab",
];
const COMPANY_WORDS: &[&str] = &[
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "stark",
    "wayne",
    "tyrell",
    "cyberdyne",
    "soylent",
    "wonka",
    "vandelay",
    "pied-piper",
    "oscorp",
    "aperture",
    "blue-sun",
    "nakatomi",
    "gringotts",
    "monarch",
    "kaiba",
];
const COMPANY_TLDS: &[&str] = &["com", "io", "de", "co.uk", "fr", "example", "net", "com.au"];
const DNS_POLICY_NAMES: &[&str] = &[
    "Block security threats",
    "Block \"Social Media\" during work hours",
    "Allow corp domains",
    "Block gambling\n(weekdays)",
    "Block newly seen domains",
    "SafeSearch für Schüler",
    "Block C:\\ malware list",
    "Block ads & trackers",
    "Allow <partner> SaaS",
];
const HTTP_POLICY_NAMES: &[&str] = &[
    "Block file uploads to personal cloud",
    "Isolate \"uncategorized\" sites",
    "Do not inspect banking",
    "Block .exe downloads",
    "DLP – credit cards",
    "Allow <internal> apps & tools",
    "Block C:\\ shares",
    "Scan all downloads\n(AV)",
    "Quarantine PDFs",
];
const VNETS: &[&str] = &["default", "prod-vnet", "staging", "Büro-LAN"];

/// One device of a user.
pub(crate) struct Device {
    pub id: String,
    pub name: String,
    pub registration_id: String,
}

/// A user: identity, devices and the IPs it connects from.
pub(crate) struct User {
    pub id: String,
    pub email: String,
    pub devices: Vec<Device>,
    pub ips: Vec<Ip>,
}

/// A customer location.
pub(crate) struct Location {
    pub name: &'static str,
    pub id: String,
    pub doh: String,
    pub ips: Vec<Ip>,
    /// Tunnel on-ramp (GRE/IPsec): records carry a SourceInternalIP.
    pub tunnel: bool,
}

/// A Gateway policy.
pub(crate) struct Policy {
    pub id: String,
    pub name: &'static str,
}

/// An account with its users, locations, policies.
pub(crate) struct Account {
    pub id: String,
    pub users: Vec<User>,
    pub user_zipf: Zipf,
    pub locations: Vec<Location>,
    pub dns_policies: Vec<Policy>,
    pub http_policies: Vec<Policy>,
    pub tenant_id: &'static str,
    pub vnet: Option<(String, &'static str)>,
}

/// An IP address (text as written) with its geolocation.
pub(crate) struct Ip {
    pub text: String,
    pub v6: bool,
    pub geo: usize,
}

/// Who sends a request or query: an account, maybe one of its users (and a device), maybe
/// a location, and the source address.
pub(crate) struct Asker<'a> {
    pub acct: &'a Account,
    pub user: Option<&'a User>,
    pub device: Option<&'a Device>,
    pub loc: Option<&'a Location>,
    pub src: &'a Ip,
}

/// The per-mille chances an [`Asker`] is drawn with.
pub(crate) struct AskerOdds {
    /// That one of the account's users asks.
    pub user: u32,
    /// That a user with devices asks from none of them (0: never).
    pub no_device: u32,
    /// That a location is known although a user asks.
    pub location: u32,
    /// That a user's own address is the source although a location is known (0: never).
    pub user_source: u32,
}

impl<'a> Asker<'a> {
    /// Draws who asks, with `odds`: an account, maybe a user and device, maybe a location
    /// (always without a user), and the source address.
    pub(crate) fn draw(rng: &mut Rng, p: &'a Pools, odds: &AskerOdds) -> Self {
        let acct = p.account(rng);
        let user = if chance(rng, odds.user) {
            Some(acct.user(rng))
        } else {
            None
        };
        let device = user.and_then(|u| {
            if u.devices.is_empty() || (odds.no_device > 0 && chance(rng, odds.no_device)) {
                None
            } else {
                Some(pick(rng, &u.devices))
            }
        });
        let loc = if user.is_none() || chance(rng, odds.location) {
            Some(acct.location(rng))
        } else {
            None
        };
        let src = match (user, loc) {
            (Some(u), _) if odds.user_source > 0 && chance(rng, odds.user_source) => {
                pick(rng, &u.ips)
            }
            (_, Some(l)) => pick(rng, &l.ips),
            (Some(u), None) => pick(rng, &u.ips),
            (None, None) => &acct.locations[0].ips[0],
        };
        Self {
            acct,
            user,
            device,
            loc,
            src,
        }
    }
}

/// A domain and its DNS data.
pub(crate) struct Domain {
    pub name: String,
    pub reversed: String,
    /// DNS wire format of `name`.
    pub wire: Vec<u8>,
    pub cats: Vec<u16>,
    pub app: Option<u16>,
    pub v4: Vec<[u8; 4]>,
    pub v6: Vec<[u8; 16]>,
    pub v4_text: Vec<String>,
    pub v6_text: Vec<String>,
    pub ip_geo: usize,
    pub cname: Option<String>,
    pub cname_wire: Vec<u8>,
    pub ttl: u32,
    pub security: bool,
}

/// Everything records are drawn from.
pub(crate) struct Pools {
    pub accounts: Vec<Account>,
    pub account_zipf: Zipf,
    pub domains: Vec<Domain>,
    pub domain_zipf: Zipf,
    pub ns_ips: Vec<String>,
}

fn uuid(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    let v = (u128::from(a) << 64) | u128::from(b);
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn hex(rng: &mut Rng, bytes: usize) -> String {
    let mut v = Vec::with_capacity(bytes * 2);
    super::json::write_hex(&mut v, rng, bytes);
    v.into_iter().map(char::from).collect()
}

/// DNS wire format of a name ("." → root).
pub(crate) fn name_wire(name: &str, out: &mut Vec<u8>) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let l = &label.as_bytes()[..label.len().min(63)];
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
}

/// `a.b.c` → `c.b.a`.
pub(crate) fn reverse_name(name: &str) -> String {
    let mut parts: Vec<&str> = name.split('.').collect();
    parts.reverse();
    parts.join(".")
}

fn random_ip(rng: &mut Rng, weights: &[u32], v6_permille: u32) -> Ip {
    let geo = weighted(rng, weights);
    if chance(rng, v6_permille) {
        let p = choose(rng, V6_PREFIXES);
        let v = p
            | (u128::from(rng.next_u64()) << 32 | u128::from(rng.next_u32())) & ((1u128 << 96) - 1);
        // ISPs hand out /64s: often a low interface id, sometimes a random one.
        let v = if chance(rng, 300) {
            v & !0xffff_ffff_ffff_0000u128
        } else {
            v
        };
        Ip {
            text: Ipv6Addr::from(v).to_string(),
            v6: true,
            geo,
        }
    } else {
        let v = loop {
            let v = between(rng, 0x0100_0000, 0xDFFF_FFFF);
            let a = v >> 24;
            if a != 10 && a != 127 && a != 172 && a != 192 && a != 100 && a != 169 {
                break v;
            }
        };
        Ip {
            text: Ipv4Addr::from(v).to_string(),
            v6: false,
            geo,
        }
    }
}

fn syllable_word(rng: &mut Rng, min: u32, max: u32) -> String {
    let n = between(rng, min, max);
    let mut w = String::new();
    for _ in 0..n {
        w.push_str(choose(rng, SYLLABLES));
    }
    w
}

fn tail_domain(rng: &mut Rng) -> (String, bool) {
    let tlds: Vec<u32> = TLDS.iter().map(|t| t.1).collect();
    let subs: Vec<u32> = SUBDOMAINS.iter().map(|t| t.1).collect();
    let kind = below(rng, 1000);
    if kind < 30 {
        // DGA-like / malware names: long random labels, security-categorised.
        let mut s = String::new();
        let len = between(rng, 12, 30);
        for _ in 0..len {
            let c = below(rng, 36) as u8;
            s.push(if c < 26 {
                (b'a' + c) as char
            } else {
                (b'0' + c - 26) as char
            });
        }
        s.push('.');
        s.push_str(TLDS[weighted(rng, &tlds)].0);
        (s, true)
    } else if kind < 80 {
        // Long CDN / tracking host names.
        let s = format!(
            "{}-{}.{}.{}.{}",
            hex(rng, 6),
            hex(rng, 3),
            syllable_word(rng, 1, 2),
            pick(
                rng,
                &[
                    "akamaiedge",
                    "trafficmanager",
                    "elb.amazonaws",
                    "storage.googleapis",
                    "blob.core.windows"
                ]
            ),
            pick(rng, &["net", "com"])
        );
        (s, false)
    } else {
        let s = format!(
            "{}{}.{}",
            SUBDOMAINS[weighted(rng, &subs)].0,
            syllable_word(rng, 2, 4),
            TLDS[weighted(rng, &tlds)].0
        );
        (s, false)
    }
}

fn build_domain(rng: &mut Rng, name: String, app: Option<u16>, security: bool) -> Domain {
    let mut wire = Vec::with_capacity(name.len() + 2);
    name_wire(&name, &mut wire);
    let reversed = reverse_name(&name);
    let mut cats = Vec::new();
    if security {
        cats.push(
            (SECURITY_FROM + below(rng, (CATEGORIES.len() - SECURITY_FROM) as u32) as usize) as u16,
        );
        if chance(rng, 400) {
            cats.push(below(rng, SECURITY_FROM as u32) as u16);
        }
    } else {
        let n = weighted(rng, &[80, 500, 300, 100, 20]);
        for _ in 0..n {
            let c = below(rng, SECURITY_FROM as u32) as u16;
            if !cats.contains(&c) {
                cats.push(c);
            }
        }
    }
    let prefix4 = choose(rng, V4_PREFIXES);
    let n4 = weighted(rng, &[30, 500, 300, 100, 70]);
    let v4: Vec<[u8; 4]> = (0..n4)
        .map(|_| (prefix4 | below(rng, 0xffff)).to_be_bytes())
        .collect();
    let prefix6 = choose(rng, V6_PREFIXES);
    let n6 = if n4 == 0 {
        1
    } else {
        weighted(rng, &[350, 450, 200])
    };
    let v6: Vec<[u8; 16]> = (0..n6)
        .map(|_| {
            (prefix6 | u128::from(rng.next_u32()) << 64 | u128::from(below(rng, 0x1_0000)))
                .to_be_bytes()
        })
        .collect();
    let v4_text = v4.iter().map(|b| Ipv4Addr::from(*b).to_string()).collect();
    let v6_text = v6.iter().map(|b| Ipv6Addr::from(*b).to_string()).collect();
    let cname = if chance(rng, 280) {
        let base = name.trim_start_matches("www.").replace('.', "-");
        Some(format!("{}{}", base, pick(rng, CNAME_SUFFIXES)))
    } else {
        None
    };
    let mut cname_wire = Vec::new();
    if let Some(c) = &cname {
        name_wire(c, &mut cname_wire);
    }
    let ttl = choose(
        rng,
        &[
            20, 30, 60, 60, 60, 120, 300, 300, 300, 600, 1800, 3600, 3600, 14400, 86400,
        ],
    );
    Domain {
        name,
        reversed,
        wire,
        cats,
        app,
        v4,
        v6,
        v4_text,
        v6_text,
        ip_geo: 0,
        cname,
        cname_wire,
        ttl,
        security,
    }
}

/// Plausible category ids of a popular name.
fn head_categories(name: &str) -> &'static [u32] {
    const RULES: &[(&[&str], &[u32])] = &[
        (&["mail.google", "outlook."], &[35]),
        (&["drive.google", "dropbox", "box.com", "icloud"], &[129]),
        (&["doubleclick", "analytics", "tagmanager"], &[1]),
        (
            &[
                "gstatic",
                "googleapis",
                "jsdelivr",
                "amazonaws",
                "digicert",
                "pki.goog",
                "githubusercontent",
                "nflxso",
                "ytimg",
            ],
            &[27, 163],
        ),
        (&["google", "bing"], &[28]),
        (&["youtube", "netflix"], &[30, 5]),
        (&["spotify"], &[29]),
        (
            &[
                "facebook",
                "instagram",
                "twitter",
                "x.com",
                "linkedin",
                "tiktok",
                "reddit",
            ],
            &[18],
        ),
        (
            &["discord", "whatsapp", "slack", "zoom", "teams"],
            &[31, 11],
        ),
        (&["openai", "chatgpt", "claude"], &[169, 21]),
        (&["wikipedia"], &[4]),
        (&["nytimes", "bbc", "spiegel"], &[13]),
        (&["salesforce", "hubspot", "atlassian"], &[122, 133]),
        (&["amazon.com"], &[17]),
        (&["xn--"], &[19]),
    ];
    RULES
        .iter()
        .find(|r| r.0.iter().any(|k| name.contains(k)))
        .map(|r| r.1)
        .unwrap_or(&[21, 10])
}

impl Pools {
    /// Builds the fixed world (a few milliseconds).
    pub fn build() -> Self {
        let mut rng = Rng::seed_from_u64(WORLD_SEED);
        let rng = &mut rng;
        let geo_weights: Vec<u32> = GEOS.iter().map(|g| g.1).collect();
        let domains = build_domains(rng, &geo_weights);
        let domain_zipf = Zipf::new(domains.len(), 1.5, 2);
        let accounts: Vec<Account> = (0..50usize)
            .map(|rank| build_account(rng, rank, &geo_weights))
            .collect();
        let account_zipf = Zipf::new(accounts.len(), 1.0, 2);
        let ns_ips = (0..64)
            .map(|_| random_ip(rng, &geo_weights, 200).text)
            .collect();
        Pools {
            accounts,
            account_zipf,
            domains,
            domain_zipf,
            ns_ips,
        }
    }

    pub fn account(&self, rng: &mut Rng) -> &Account {
        &self.accounts[self.account_zipf.sample(rng)]
    }

    pub fn domain(&self, rng: &mut Rng) -> &Domain {
        &self.domains[self.domain_zipf.sample(rng)]
    }
}

/// The 4000 domains: the popular head (with their apps and categories, mostly hosted in
/// the first geo) followed by a generated long tail.
fn build_domains(rng: &mut Rng, geo_weights: &[u32]) -> Vec<Domain> {
    let mut domains = Vec::with_capacity(4000);
    for &(name, app) in HEAD_DOMAINS {
        let app = APPS
            .iter()
            .position(|a| i32::try_from(a.0).ok() == Some(i32::from(app)))
            .map(|i| i as u16);
        domains.push(build_domain(rng, name.to_string(), app, false));
    }
    while domains.len() < 4000 {
        let (name, security) = tail_domain(rng);
        let app = if !security && chance(rng, 40) {
            Some(below(rng, APPS.len() as u32) as u16)
        } else {
            None
        };
        domains.push(build_domain(rng, name, app, security));
    }
    for (i, d) in domains.iter_mut().enumerate() {
        d.ip_geo = if i < HEAD_DOMAINS.len() && chance(rng, 800) {
            0
        } else {
            weighted(rng, geo_weights)
        };
        if i < HEAD_DOMAINS.len() {
            d.cats = head_categories(&d.name)
                .iter()
                .filter_map(|&id| CATEGORIES.iter().position(|c| c.0 == id))
                .map(|i| i as u16)
                .collect();
        }
    }
    domains
}

/// The account of popularity `rank` (0 = largest): its company domain, users, locations,
/// policies, tenant and virtual network.
fn build_account(rng: &mut Rng, rank: usize, geo_weights: &[u32]) -> Account {
    let company = format!(
        "{}{}.{}",
        pick(rng, COMPANY_WORDS),
        if rank < 20 {
            String::new()
        } else {
            rank.to_string()
        },
        pick(rng, COMPANY_TLDS)
    );
    let n_users = 4 + 400 / (rank + 1);
    let users: Vec<User> = (0..n_users)
        .map(|u| build_user(rng, u, &company, geo_weights))
        .collect();
    let n_loc = 1 + 5 / (rank / 4 + 1);
    let locations = (0..n_loc)
        .map(|_| Location {
            name: choose(rng, LOCATION_NAMES),
            id: uuid(rng),
            doh: hex(rng, 5),
            ips: (0..between(rng, 1, 2))
                .map(|_| random_ip(rng, geo_weights, 200))
                .collect(),
            tunnel: chance(rng, 250),
        })
        .collect();
    let dns_policies = build_policies(rng, DNS_POLICY_NAMES);
    let http_policies = build_policies(rng, HTTP_POLICY_NAMES);
    let tenant_id = if chance(rng, 100) {
        "a1b2c3d4-tenant"
    } else {
        ""
    };
    let vnet = if chance(rng, 300) {
        Some((uuid(rng), choose(rng, VNETS)))
    } else {
        None
    };
    Account {
        id: hex(rng, 16),
        user_zipf: Zipf::new(users.len(), 2.0, 2),
        users,
        locations,
        dns_policies,
        http_policies,
        tenant_id,
        vnet,
    }
}

/// User number `u` of `company`: email, zero to three devices, one to three IPs.
fn build_user(rng: &mut Rng, u: usize, company: &str, geo_weights: &[u32]) -> User {
    let first = pick(rng, FIRST_NAMES);
    let last = pick(rng, LAST_NAMES);
    let email = if chance(rng, 30) {
        format!("zoë.{last}{u}@{company}")
    } else {
        format!(
            "{first}.{last}{}@{company}",
            if u < 30 { String::new() } else { u.to_string() }
        )
    };
    let n_dev = weighted(rng, &[0, 700, 250, 50]);
    let devices = (0..n_dev)
        .map(|_| {
            let t = choose(rng, DEVICE_TEMPLATES);
            let num = below(rng, 1000).to_string();
            Device {
                id: uuid(rng),
                name: t.replace("{}", &num),
                registration_id: uuid(rng),
            }
        })
        .collect();
    let n_ip = between(rng, 1, 3);
    let ips = (0..n_ip)
        .map(|_| random_ip(rng, geo_weights, 200))
        .collect();
    User {
        id: uuid(rng),
        email,
        devices,
        ips,
    }
}

/// Three to seven policies named from `names`.
fn build_policies(rng: &mut Rng, names: &'static [&'static str]) -> Vec<Policy> {
    (0..between(rng, 3, 7))
        .map(|_| Policy {
            id: uuid(rng),
            name: choose(rng, names),
        })
        .collect()
}

impl Account {
    pub fn user(&self, rng: &mut Rng) -> &User {
        &self.users[self.user_zipf.sample(rng)]
    }

    pub fn location(&self, rng: &mut Rng) -> &Location {
        // Mostly the first (main office) location.
        let i = if chance(rng, 600) {
            0
        } else {
            below(rng, self.locations.len() as u32) as usize
        };
        &self.locations[i]
    }
}

/// UTC hour-of-day traffic weights (office hours in Europe and the Americas).
const HOUR_WEIGHTS: [u32; 24] = [
    30, 25, 20, 20, 22, 30, 45, 65, 85, 95, 100, 100, 100, 105, 110, 115, 115, 110, 95, 80, 65, 55,
    45, 35,
];

/// A record time in `start .. start + 48 h`: (unix seconds, nanoseconds).
pub(crate) fn record_time(rng: &mut Rng, start: i64) -> (i64, u32) {
    let day = i64::from(below(rng, 2));
    let hour = weighted(rng, &HOUR_WEIGHTS) as i64;
    let sec = i64::from(below(rng, 3600));
    let nanos = below(rng, 1_000_000_000);
    (start + day * 86_400 + hour * 3600 + sec, nanos)
}

/// Appends a random private (RFC 1918) IPv4 address as text.
pub(crate) fn private_ip(rng: &mut Rng, out: &mut String) {
    use std::fmt::Write;
    let _ = match below(rng, 3) {
        0 => write!(
            out,
            "10.{}.{}.{}",
            below(rng, 256),
            below(rng, 256),
            between(rng, 1, 254)
        ),
        1 => write!(out, "192.168.{}.{}", below(rng, 256), between(rng, 1, 254)),
        _ => write!(
            out,
            "172.{}.{}.{}",
            between(rng, 16, 31),
            below(rng, 256),
            between(rng, 1, 254)
        ),
    };
}
