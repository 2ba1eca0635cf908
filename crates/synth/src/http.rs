//! One valid `gateway_http` record: a request from a user's device (or a proxy endpoint /
//! location) to a domain of the pool, Gateway's action, and file / DLP details when relevant.

use super::json::{
    time_format, write_datetime, write_hex, write_str, write_u64, KeyFilter, Record,
};
use super::pools::{
    below, between, chance, choose, pick, private_ip, weighted, Account, Asker, AskerOdds, Device,
    Domain, Ip, Location, Pools, Rng, User, APPS, CATEGORIES, GEOS,
};

/// Who sends a request: the source address is mostly the user's, else the location's.
const ODDS: AskerOdds = AskerOdds {
    user: 920,
    no_device: 0,
    location: 150,
    user_source: 800,
};

/// Reusable per-record buffers.
pub(crate) struct Scratch {
    s: String,
    url: Vec<u8>,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            s: String::with_capacity(64),
            url: Vec::with_capacity(512),
        }
    }
}

/// Gateway HTTP actions ("off" = do not inspect) and their weights.
const ACTIONS: [&str; 7] = [
    "allow",
    "block",
    "isolate",
    "noisolate",
    "off",
    "noscan",
    "redirect",
];
const ACTION_WEIGHTS: [u32; 7] = [780, 90, 30, 5, 40, 15, 10];

const STATUS: &[u16] = &[
    200, 204, 206, 301, 302, 304, 400, 401, 403, 404, 429, 500, 502, 503, 0,
];
const STATUS_WEIGHTS: [u32; 15] = [600, 50, 20, 30, 50, 80, 10, 15, 15, 40, 5, 8, 5, 5, 20];
const METHODS: &[&str] = &["GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE", "PATCH"];
const METHOD_WEIGHTS: [u32; 7] = [700, 200, 20, 20, 40, 5, 10];

const USER_AGENTS: &[(&str, u32)] = &[
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", 300),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", 200),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", 80),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.70", 100),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 40),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", 60),
    ("Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36", 40),
    ("Slack/4.41.105 (Macintosh; Intel Mac OS X 14.6.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.191 Electron/33.2.0 Safari/537.36", 30),
    ("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)", 30),
    ("curl/8.11.0", 15),
    ("python-requests/2.32.3", 10),
    ("Go-http-client/2.0", 10),
    ("okhttp/4.12.0", 8),
    ("Spotify/1.2.52.442 Win32_x86_64/0 (PC desktop)", 8),
    ("MyCorpApp/2.3 (iPhone; iOS 18.1; Scale/3.00) 🚀", 5),
    ("Zoë's \"custom\" agent/1.0 (+https://example.com/bot\\info) ✨", 2),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0 (Edition std-1) [de-DE] Büro Build/2026.11 GLS/100.10.9939.100", 3),
];
const UA_WEIGHTS: [u32; 17] = {
    let mut w = [0u32; 17];
    let mut i = 0;
    while i < 17 {
        w[i] = USER_AGENTS[i].1;
        i += 1;
    }
    w
};

const WORDS: &[&str] = &[
    "report",
    "invoice",
    "search",
    "profile",
    "settings",
    "dashboard",
    "video",
    "image",
    "news",
    "product",
    "cart",
    "checkout",
    "login",
    "docs",
    "release",
    "download",
    "article",
    "comments",
    "feed",
    "api",
    "user",
    "team",
    "café",
    "straße",
    "résumé",
    "data",
];

/// Wiki page titles, raw and percent-encoded (non-ASCII URLs).
const WIKI_TITLES: [&str; 4] = [
    "Caf\u{e9}_M\u{fc}ller",
    "%E6%9D%B1%E4%BA%AC",
    "Stra%C3%9Fe",
    "\u{1F600}_emoji",
];

/// Files: (name stem, extension, content type, file type).
const FILES: &[(&str, &str, &str, &str)] = &[
    ("Q3-report", "pdf", "application/pdf", "pdf"),
    ("setup", "exe", "application/x-msdownload", "exe"),
    ("holiday photo", "jpg", "image/jpeg", "jpg"),
    (
        "budget 2027",
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    ("archive", "zip", "application/zip", "zip"),
    (
        "Präsentation",
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pptx",
    ),
    ("firmware", "bin", "application/octet-stream", "bin"),
    (
        "notes \"final\"",
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
];

const DLP_PROFILES: &[(&str, &str)] = &[
    ("Financial Information", "Credit Card Numbers"),
    (
        "Social Security, Insurance, Tax, and Identifier Numbers",
        "United States SSN Numeric Detection",
    ),
    ("Source Code", "Python"),
    ("Custom – Projekt Überblick", "Codename \"Falcon\""),
];

/// A Logpush job's field list: (keep-function, weight). Most jobs select a subset of fields.
pub(crate) const PROFILES: [(KeyFilter, u32); 3] =
    [(keep_minimal, 20), (keep_standard, 65), (|_| true, 15)];

fn keep_minimal(k: &str) -> bool {
    matches!(
        k,
        "AccountID"
            | "Action"
            | "CategoryIDs"
            | "CategoryNames"
            | "Datetime"
            | "DestinationIP"
            | "DestinationPort"
            | "DeviceName"
            | "Email"
            | "FileInfo"
            | "HTTPHost"
            | "HTTPMethod"
            | "HTTPStatusCode"
            | "PolicyName"
            | "SourceIP"
            | "SourcePort"
            | "URL"
            | "UserAgent"
            | "UserID"
    )
}

fn keep_standard(k: &str) -> bool {
    !matches!(
        k,
        "AddedHeaders"
            | "AppControlInfo"
            | "ApplicationStatuses"
            | "DeletedHeaders"
            | "DownloadMatchedDlpProfileEntries"
            | "ForensicCopyStatus"
            | "PrivateAppAUD"
            | "SetHeaders"
            | "TenantID"
            | "UploadMatchedDlpProfileEntries"
            | "VirtualNetworkID"
            | "Warnings"
    )
}

/// What one request is about, drawn before any field is written: who sends it (account,
/// user, device, location, source address), to which domain, the policy's action, and the
/// file it moves, if any.
#[derive(Clone, Copy)]
struct Request<'a> {
    secs: i64,
    nanos: u32,
    acct: &'a Account,
    user: Option<&'a User>,
    device: Option<&'a Device>,
    loc: Option<&'a Location>,
    src: &'a Ip,
    dom: &'a Domain,
    action: &'static str,
    method: &'static str,
    status: u16,
    from_policy: bool,
    /// 1: a download, 2: an upload, 0: no file.
    file_kind: u8,
    file: Option<&'static (&'static str, &'static str, &'static str, &'static str)>,
    file_blocked: bool,
    file_size: u64,
    dlp: Option<&'static (&'static str, &'static str)>,
}

/// Writes one record: the request is drawn, then each group of fields in reference order
/// (the draws from `rng` in this order make a seed's bytes).
pub(crate) fn fill(rng: &mut Rng, p: &Pools, rec: &mut Record, sc: &mut Scratch, time: (i64, u32)) {
    let r = draw(rng, p, time);
    identity_and_applications(rng, rec, &r);
    blocked_file_and_categories(rng, rec, sc, &r);
    time_destination_and_download(rng, rec, sc, &r);
    file_info_and_request(rng, rec, sc, &r);
    policy_and_redirect(rng, rec, &r);
    url_referer_and_ids(rng, p, rec, sc, &r);
    source_and_upload(rng, rec, sc, &r);
    user_agent_and_network(rng, rec, &r);
}

/// Draws who sends what to where, and what the policy does with it.
fn draw<'a>(rng: &mut Rng, p: &'a Pools, (secs, nanos): (i64, u32)) -> Request<'a> {
    let Asker {
        acct,
        user,
        device,
        loc,
        src,
    } = Asker::draw(rng, p, &ODDS);
    let dom = p.domain(rng);
    let action = draw_action(rng, dom);
    let method = if action == "off" {
        "CONNECT"
    } else {
        METHODS[weighted(rng, &METHOD_WEIGHTS)]
    };
    let status: u16 = match action {
        "block" => choose(rng, &[403, 403, 403, 200]),
        "redirect" => choose(rng, &[302, 307]),
        "off" => 0,
        _ => STATUS[weighted(rng, &STATUS_WEIGHTS)],
    };
    let from_policy = action != "allow" || chance(rng, 250);
    let file_kind = draw_file_kind(rng, method);
    let file = if file_kind > 0 {
        Some(pick(rng, FILES))
    } else {
        None
    };
    let file_blocked = file.is_some() && action == "block";
    let file_size = if file.is_some() {
        draw_file_size(rng)
    } else {
        0
    };
    let dlp = if file_kind > 0 && chance(rng, 100) {
        Some(pick(rng, DLP_PROFILES))
    } else {
        None
    };
    Request {
        secs,
        nanos,
        acct,
        user,
        device,
        loc,
        src,
        dom,
        action,
        method,
        status,
        from_policy,
        file_kind,
        file,
        file_blocked,
        file_size,
        dlp,
    }
}

/// Draws the policy's action by weight; security domains are mostly blocked.
fn draw_action(rng: &mut Rng, dom: &Domain) -> &'static str {
    let action = ACTIONS[weighted(rng, &ACTION_WEIGHTS)];
    if dom.security && chance(rng, 700) {
        "block"
    } else {
        action
    }
}

/// Draws the file transfer: 1 a download (GET), 2 an upload (POST/PUT to a file-sharing
/// app), 0 none.
fn draw_file_kind(rng: &mut Rng, method: &str) -> u8 {
    if method == "GET" && chance(rng, 40) {
        1
    } else if (method == "POST" || method == "PUT") && chance(rng, 120) {
        2
    } else {
        0
    }
}

/// Draws a transferred file's size in bytes: up to 5 MB, rarely up to 2 GB.
fn draw_file_size(rng: &mut Rng) -> u64 {
    if chance(rng, 100) {
        u64::from(between(rng, 10_000_000, 2_000_000_000))
    } else {
        u64::from(between(rng, 200, 5_000_000))
    }
}

/// AccountID to ApplicationStatuses.
fn identity_and_applications(rng: &mut Rng, rec: &mut Record, r: &Request) {
    let Request {
        acct,
        dom,
        action,
        file_kind,
        ..
    } = *r;
    let esc = rec.esc;
    rec.str("AccountID", &acct.id);
    rec.str("Action", action);
    if chance(rng, 20) {
        rec.str_list(
            "AddedHeaders",
            ["Cf-Access-Token", "X-Tenant-Id"]
                .into_iter()
                .take(between(rng, 1, 2) as usize),
        );
    } else {
        rec.empty_list("AddedHeaders");
    }
    match dom.app {
        Some(a) if chance(rng, 300) => {
            let s = rec.begin();
            rec.buf.extend_from_slice(b"{\"application\":{\"id\":");
            write_u64(&mut rec.buf, u64::from(APPS[a as usize].0));
            rec.buf.extend_from_slice(b",\"name\":");
            write_str(&mut rec.buf, APPS[a as usize].1, esc);
            rec.buf.extend_from_slice(b"},\"operations\":[");
            if file_kind == 2 {
                rec.buf.extend_from_slice(b"{\"id\":3,\"name\":\"Upload\"}");
            } else if chance(rng, 500) {
                rec.buf.extend_from_slice(
                    b"{\"id\":1,\"name\":\"Login\"},{\"id\":7,\"name\":\"Share\"}",
                );
            }
            rec.buf
                .extend_from_slice(b"],\"apis\":[],\"groups\":[\"Collaboration\"]}");
            rec.end("AppControlInfo", s);
        }
        _ => {
            if chance(rng, rec.p_empty / 2) {
                rec.raw("AppControlInfo", b"{}");
            }
        }
    }
    match dom.app {
        Some(a) => {
            rec.int_list("ApplicationIDs", [u64::from(APPS[a as usize].0)]);
            rec.str_list("ApplicationNames", [APPS[a as usize].1]);
            let st = choose(
                rng,
                &[
                    "approved",
                    "approved",
                    "approved",
                    "unapproved",
                    "in review",
                    "unreviewed",
                ],
            );
            rec.str_list("ApplicationStatuses", [st]);
        }
        None => {
            rec.empty_list("ApplicationIDs");
            rec.empty_list("ApplicationNames");
            rec.empty_list("ApplicationStatuses");
        }
    }
}

/// BlockedFileHash to CategoryNames.
fn blocked_file_and_categories(rng: &mut Rng, rec: &mut Record, sc: &mut Scratch, r: &Request) {
    let Request {
        dom,
        file,
        file_blocked,
        file_size,
        ..
    } = *r;
    match file.filter(|_| file_blocked) {
        Some(f) => {
            let s = rec.begin();
            rec.buf.push(b'"');
            write_hex(&mut rec.buf, rng, 32);
            rec.buf.push(b'"');
            rec.end("BlockedFileHash", s);
            file_name(&mut sc.s, f);
            rec.str("BlockedFileName", &sc.s);
            rec.str(
                "BlockedFileReason",
                choose(rng, &["malware", "dlp", "policy", "password protected"]),
            );
            rec.int("BlockedFileSize", file_size);
            rec.str("BlockedFileType", f.3);
        }
        None => {
            rec.opt_str("BlockedFileHash", "");
            rec.opt_str("BlockedFileName", "");
            rec.opt_str("BlockedFileReason", "");
            rec.int_or_zero("BlockedFileSize", 0);
            rec.opt_str("BlockedFileType", "");
        }
    }
    rec.int_list(
        "CategoryIDs",
        dom.cats
            .iter()
            .map(|&c| u64::from(CATEGORIES[c as usize].0)),
    );
    rec.str_list(
        "CategoryNames",
        dom.cats.iter().map(|&c| CATEGORIES[c as usize].1),
    );
}

/// Datetime to Email.
fn time_destination_and_download(rng: &mut Rng, rec: &mut Record, sc: &mut Scratch, r: &Request) {
    let Request {
        secs,
        nanos,
        user,
        device,
        dom,
        file_kind,
        file,
        dlp,
        ..
    } = *r;
    let s = rec.begin();
    write_datetime(&mut rec.buf, secs, nanos, time_format(rng));
    rec.end("Datetime", s);
    if chance(rng, 10) {
        rec.str_list("DeletedHeaders", ["Cookie"]);
    } else {
        rec.empty_list("DeletedHeaders");
    }
    let use_v6 = !dom.v6_text.is_empty() && (dom.v4_text.is_empty() || chance(rng, 200));
    let dst = if use_v6 {
        pick(rng, &dom.v6_text)
    } else {
        pick(rng, &dom.v4_text)
    };
    rec.ip("DestinationIP", dst, use_v6);
    rec.str("DestinationIPContinentCode", GEOS[dom.ip_geo].0.continent);
    rec.str("DestinationIPCountryCode", GEOS[dom.ip_geo].0.country);
    let dport = [443u64, 80, 8443, 8080][weighted(rng, &[900, 80, 10, 10])];
    rec.int("DestinationPort", dport);
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
    match dlp.filter(|_| file_kind == 1) {
        Some(d) => {
            rec.str_list("DownloadMatchedDlpProfileEntries", [d.1]);
            rec.str_list("DownloadMatchedDlpProfiles", [d.0]);
        }
        None => {
            rec.empty_list("DownloadMatchedDlpProfileEntries");
            rec.empty_list("DownloadMatchedDlpProfiles");
        }
    }
    match file.filter(|_| file_kind == 1) {
        Some(f) => {
            file_name(&mut sc.s, f);
            rec.str_list("DownloadedFileNames", [sc.s.as_str()]);
        }
        None => rec.empty_list("DownloadedFileNames"),
    }
    rec.opt_str("Email", user.map(|u| u.email.as_str()).unwrap_or(""));
}

/// FileInfo to IsIsolated.
fn file_info_and_request(rng: &mut Rng, rec: &mut Record, sc: &mut Scratch, r: &Request) {
    let Request {
        dom,
        action,
        method,
        status,
        file_kind,
        file,
        file_blocked,
        file_size,
        ..
    } = *r;
    let esc = rec.esc;
    match file {
        Some(f) => {
            let s = rec.begin();
            file_name(&mut sc.s, f);
            if chance(rng, 100) {
                // Older producers: {"name", "size"}.
                rec.buf.extend_from_slice(b"{\"files\":[{\"name\":");
                write_str(&mut rec.buf, &sc.s, esc);
                rec.buf.extend_from_slice(b",\"size\":");
                write_u64(&mut rec.buf, file_size);
                rec.buf.extend_from_slice(b"}]}");
            } else {
                let dir: &[u8] = if file_kind == 1 {
                    b"download"
                } else {
                    b"upload"
                };
                rec.buf.extend_from_slice(b"{\"files\":[{\"action\":\"");
                rec.buf
                    .extend_from_slice(if file_blocked { b"block" } else { b"allow" });
                rec.buf.extend_from_slice(b"\",\"content_type\":");
                write_str(&mut rec.buf, f.2, esc);
                rec.buf.extend_from_slice(b",\"direction\":\"");
                rec.buf.extend_from_slice(dir);
                rec.buf.extend_from_slice(b"\",\"file_name\":");
                write_str(&mut rec.buf, &sc.s, esc);
                rec.buf.extend_from_slice(b",\"file_hash\":\"");
                write_hex(&mut rec.buf, rng, 32);
                rec.buf.extend_from_slice(b"\",\"file_size\":");
                write_u64(&mut rec.buf, file_size);
                rec.buf.extend_from_slice(b",\"file_type\":");
                write_str(&mut rec.buf, f.3, esc);
                rec.buf.extend_from_slice(b"}]}");
            }
            rec.end("FileInfo", s);
        }
        None => {
            if chance(rng, rec.p_empty / 2) {
                rec.raw(
                    "FileInfo",
                    if chance(rng, 500) {
                        b"{}"
                    } else {
                        b"{\"files\":[]}"
                    },
                );
            }
        }
    }
    rec.opt_str(
        "ForensicCopyStatus",
        if file.is_some() && chance(rng, 50) {
            "success"
        } else {
            ""
        },
    );
    rec.str("HTTPHost", &dom.name);
    rec.str("HTTPMethod", method);
    rec.int("HTTPStatusCode", u64::from(status));
    rec.str(
        "HTTPVersion",
        ["HTTP/1.1", "HTTP/2", "HTTP/3"][weighted(rng, &[300, 600, 100])],
    );
    rec.bool("IsIsolated", action == "isolate");
}

/// PolicyID to RedirectTargetURI.
fn policy_and_redirect(rng: &mut Rng, rec: &mut Record, r: &Request) {
    let Request {
        acct,
        user,
        action,
        from_policy,
        file,
        ..
    } = *r;
    if from_policy {
        let pol = pick(rng, &acct.http_policies);
        rec.str("PolicyID", &pol.id);
        rec.str("PolicyName", pol.name);
    } else {
        rec.opt_str("PolicyID", "");
        rec.opt_str("PolicyName", "");
    }
    if chance(rng, 10) {
        let s = rec.begin();
        rec.buf.push(b'"');
        write_hex(&mut rec.buf, rng, 32);
        rec.buf.push(b'"');
        rec.end("PrivateAppAUD", s);
    } else {
        rec.opt_str("PrivateAppAUD", "");
    }
    if user.is_none() {
        let s = rec.begin();
        rec.buf.extend_from_slice(b"\"");
        write_hex(&mut rec.buf, rng, 5);
        rec.buf
            .extend_from_slice(b".proxy.cloudflare-gateway.com\"");
        rec.end("ProxyEndpoint", s);
    } else {
        rec.opt_str("ProxyEndpoint", "");
    }
    rec.bool("Quarantined", file.is_some() && chance(rng, 30));
    if action == "redirect" {
        rec.str(
            "RedirectTargetURI",
            "https://intranet.example.com/blocked?src=gateway&lang=en",
        );
    } else {
        rec.opt_str("RedirectTargetURI", "");
    }
}

/// The URL (written later), Referer to SetHeaders.
fn url_referer_and_ids(rng: &mut Rng, p: &Pools, rec: &mut Record, sc: &mut Scratch, r: &Request) {
    let Request {
        device,
        dom,
        action,
        file_kind,
        file,
        ..
    } = *r;
    let esc = rec.esc;
    // URL (built now, also used for the Referer of same-site requests).
    build_url(
        rng,
        p,
        dom.name.as_str(),
        file.filter(|_| file_kind == 1),
        &mut sc.url,
    );
    match below(rng, 10) {
        0..=3 => rec.opt_str("Referer", ""),
        4..=7 => {
            let s = rec.begin();
            let u = &sc.url;
            // same site: scheme + host + "/"
            let host_end = u
                .iter()
                .skip(8)
                .position(|&b| b == b'/')
                .map(|i| i + 9)
                .unwrap_or(u.len());
            super::json::write_str_bytes(&mut rec.buf, &u[..host_end], esc);
            rec.end("Referer", s);
        }
        _ => {
            let other = p.domain(rng);
            let s = rec.begin();
            rec.buf.extend_from_slice(b"\"https://");
            rec.buf.extend_from_slice(other.name.as_bytes());
            rec.buf.extend_from_slice(b"/\"");
            rec.end("Referer", s);
        }
    }
    rec.opt_str(
        "RegistrationID",
        device.map(|d| d.registration_id.as_str()).unwrap_or(""),
    );
    if action == "off" && chance(rng, 500) {
        rec.opt_str("RequestID", "");
    } else {
        let s = rec.begin();
        rec.buf.push(b'"');
        write_hex(&mut rec.buf, rng, 16);
        rec.buf.push(b'"');
        rec.end("RequestID", s);
    }
    let s = rec.begin();
    rec.buf.push(b'"');
    write_hex(&mut rec.buf, rng, 16);
    rec.buf.push(b'"');
    rec.end("SessionID", s);
    if chance(rng, 15) {
        rec.str_list("SetHeaders", ["User-Agent"]);
    } else {
        rec.empty_list("SetHeaders");
    }
}

/// SourceIP to UploadedFileNames.
fn source_and_upload(rng: &mut Rng, rec: &mut Record, sc: &mut Scratch, r: &Request) {
    let Request {
        acct,
        loc,
        src,
        file_kind,
        file,
        dlp,
        ..
    } = *r;
    let esc = rec.esc;
    rec.ip("SourceIP", &src.text, src.v6);
    rec.str("SourceIPContinentCode", GEOS[src.geo].0.continent);
    rec.str("SourceIPCountryCode", GEOS[src.geo].0.country);
    match loc.filter(|l| l.tunnel) {
        Some(_) => {
            sc.s.clear();
            private_ip(rng, &mut sc.s);
            rec.ip("SourceInternalIP", &sc.s, false);
        }
        None => rec.opt_str("SourceInternalIP", ""),
    }
    rec.int("SourcePort", u64::from(between(rng, 1024, 65535)));
    rec.opt_str("TenantID", acct.tenant_id);
    let s = rec.begin();
    super::json::write_str_bytes(&mut rec.buf, &sc.url, esc);
    rec.end("URL", s);
    let uca = ["none", "block", "error", "passThrough", ""][weighted(rng, &[700, 40, 20, 40, 200])];
    rec.opt_str("UntrustedCertificateAction", uca);
    match dlp.filter(|_| file_kind == 2) {
        Some(d) => {
            rec.str_list("UploadMatchedDlpProfileEntries", [d.1]);
            rec.str_list("UploadMatchedDlpProfiles", [d.0]);
        }
        None => {
            rec.empty_list("UploadMatchedDlpProfileEntries");
            rec.empty_list("UploadMatchedDlpProfiles");
        }
    }
    match file.filter(|_| file_kind == 2) {
        Some(f) => {
            file_name(&mut sc.s, f);
            rec.str_list("UploadedFileNames", [sc.s.as_str()]);
        }
        None => rec.empty_list("UploadedFileNames"),
    }
}

/// UserAgent to Warnings.
fn user_agent_and_network(rng: &mut Rng, rec: &mut Record, r: &Request) {
    let Request {
        acct, user, action, ..
    } = *r;
    if action == "off" && chance(rng, 500) {
        rec.opt_str("UserAgent", "");
    } else {
        rec.str("UserAgent", USER_AGENTS[weighted(rng, &UA_WEIGHTS)].0);
    }
    rec.opt_str("UserID", user.map(|u| u.id.as_str()).unwrap_or(""));
    match &acct.vnet {
        Some((id, name)) if user.is_some() => {
            rec.str("VirtualNetworkID", id);
            rec.str("VirtualNetworkName", name);
        }
        _ => {
            rec.opt_str("VirtualNetworkID", "");
            rec.opt_str("VirtualNetworkName", "");
        }
    }
    if chance(rng, 15) {
        rec.str_list(
            "Warnings",
            [choose(
                rng,
                &[
                    "http2 downgrade",
                    "certificate verification skipped",
                    "body too large to scan",
                ],
            )],
        );
    } else {
        rec.empty_list("Warnings");
    }
}

fn file_name(s: &mut String, f: &(&str, &str, &str, &str)) {
    s.clear();
    s.push_str(f.0);
    s.push('.');
    s.push_str(f.1);
}

/// Writes a request URL (raw text, not yet JSON-escaped) for `host` into `out`.
fn build_url(
    rng: &mut Rng,
    p: &Pools,
    host: &str,
    download: Option<&(&str, &str, &str, &str)>,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.extend_from_slice(if chance(rng, 950) {
        b"https://"
    } else {
        b"http://"
    });
    out.extend_from_slice(host.as_bytes());
    match download {
        Some(f) => {
            out.extend_from_slice(b"/download/");
            out.extend_from_slice(f.0.replace(' ', "%20").as_bytes());
            out.push(b'.');
            out.extend_from_slice(f.1.as_bytes());
        }
        None => url_path(rng, p, out),
    }
}

/// Appends a path and query of a random shape: root, search, API, static asset, image,
/// video, analytics beacon, wiki page, or odd characters.
fn url_path(rng: &mut Rng, p: &Pools, out: &mut Vec<u8>) {
    match below(rng, 100) {
        0..=14 => out.push(b'/'),
        15..=29 => {
            out.extend_from_slice(b"/search?q=");
            out.extend_from_slice(word(rng).as_bytes());
            out.push(b'+');
            out.extend_from_slice(word(rng).as_bytes());
            out.extend_from_slice(b"&hl=en&source=hp&ei=");
            write_hex(out, rng, 10);
        }
        30..=49 => {
            out.extend_from_slice(b"/api/v");
            write_u64(out, u64::from(between(rng, 1, 4)));
            out.push(b'/');
            out.extend_from_slice(word(rng).as_bytes());
            out.extend_from_slice(b"s/");
            write_hex(out, rng, 8);
        }
        50..=64 => {
            out.extend_from_slice(b"/static/js/main.");
            write_hex(out, rng, 4);
            out.extend_from_slice(b".chunk.js");
        }
        65..=74 => {
            out.extend_from_slice(b"/images/");
            out.extend_from_slice(word(rng).as_bytes());
            out.push(b'_');
            write_u64(out, u64::from(below(rng, 5000)));
            out.extend_from_slice(b".png");
        }
        75..=84 => {
            out.extend_from_slice(b"/watch?v=");
            write_hex(out, rng, 6);
            out.extend_from_slice(b"&t=");
            write_u64(out, u64::from(below(rng, 3600)));
            out.push(b's');
        }
        85..=92 => beacon_path(rng, p, out),
        93..=95 => {
            out.extend_from_slice(b"/wiki/");
            out.extend_from_slice(pick(rng, &WIKI_TITLES).as_bytes());
        }
        96..=97 => {
            out.extend_from_slice(b"/share\\folder/\"quoted\"/");
            out.extend_from_slice(word(rng).as_bytes());
        }
        _ => {
            out.extend_from_slice(b"/");
            out.extend_from_slice(word(rng).as_bytes());
            out.extend_from_slice(b"?redirect=%2Fhome&lang=de-DE&ref=<nav>");
        }
    }
}

/// Appends an analytics beacon's path: a long query string (the URL size tail).
fn beacon_path(rng: &mut Rng, p: &Pools, out: &mut Vec<u8>) {
    out.extend_from_slice(b"/collect?v=2&tid=G-");
    write_hex(out, rng, 5);
    out.extend_from_slice(b"&cid=");
    write_u64(out, u64::from(rng_u32(rng)));
    let n = if chance(rng, 100) {
        between(rng, 40, 160)
    } else {
        between(rng, 3, 14)
    };
    for i in 0..n {
        out.extend_from_slice(b"&ep.");
        out.extend_from_slice(word(rng).as_bytes());
        write_u64(out, u64::from(i));
        out.push(b'=');
        write_hex(out, rng, 6);
    }
    out.extend_from_slice(b"&dl=https%3A%2F%2F");
    out.extend_from_slice(p.domains[below(rng, 50) as usize].name.as_bytes());
    out.extend_from_slice(b"%2F");
}

/// One of [`WORDS`], drawn uniformly.
fn word(rng: &mut Rng) -> &'static str {
    choose(rng, WORDS)
}

fn rng_u32(rng: &mut Rng) -> u32 {
    use rand::RngCore;
    rng.next_u32()
}
