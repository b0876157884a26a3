//! Client addresses and the IP allow-lists of SYSTEM users.
//!
//! The client address is the socket peer. Only when the peer is one of the configured
//! trusted proxies do `X-Real-IP` and `X-Forwarded-For` count (the right-most address in
//! X-Forwarded-For that is not itself a trusted proxy), so a client cannot claim an address
//! by sending a header.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Parses an address (`10.1.2.3`) or a CIDR range (`10.1.2.0/24`).
pub fn parse_net(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("\"{text}\" is not an IP address or CIDR range"))
}

pub fn parse_list(items: &[String]) -> Result<Vec<IpNet>, String> {
    items
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_net(s))
        .collect()
}

pub fn allows(list: &[IpNet], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    if ip.is_unspecified() {
        // The address of a request whose forwarding headers disagree: in no list.
        return false;
    }
    list.iter().any(|net| net.contains(&ip))
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) count as their IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Which forwarding header names the client behind a trusted proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientHeader {
    /// `X-Forwarded-For` (all its lines joined): the right-most address that is not a
    /// trusted proxy.
    #[default]
    XForwardedFor,
    /// `X-Real-IP` (nginx's `$remote_addr`), one line, one address.
    XRealIp,
    /// RFC 7239 `Forwarded: for=...` (all its elements joined): as X-Forwarded-For.
    Forwarded,
}

impl std::str::FromStr for ClientHeader {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ClientHeader::XForwardedFor),
            "x-real-ip" => Ok(ClientHeader::XRealIp),
            "forwarded" => Ok(ClientHeader::Forwarded),
            other => Err(format!(
                "\"{other}\": expected x-forwarded-for, x-real-ip or forwarded"
            )),
        }
    }
}

/// The proxies whose forwarding headers are believed, and the header that names the client.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    pub trusted: Vec<IpNet>,
    pub header: ClientHeader,
}

/// The address of a request whose forwarding headers contradict each other or cannot be
/// read: no allow-list contains it ([`allows`]), so a SYSTEM user is refused.
pub const UNKNOWN: IpAddr = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);

/// The address the request comes from: the socket peer, or, when the peer is a trusted
/// proxy, the client its configured header names. Forwarding headers that disagree about
/// the client (X-Forwarded-For against X-Real-IP, two X-Real-IP lines, an address that
/// cannot be read) make it [`UNKNOWN`], and the disagreement is logged.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &Proxies) -> IpAddr {
    let peer = canonical(peer);
    if !allows(&proxies.trusted, peer) {
        return peer;
    }
    // Outer None: the header is absent; inner None: it cannot be read.
    let from_chain = |chain: Option<Option<Vec<IpAddr>>>| -> Option<Option<IpAddr>> {
        let Some(chain) = chain? else {
            return Some(None);
        };
        let client = chain
            .iter()
            .rev()
            .copied()
            .map(canonical)
            .find(|ip| !allows(&proxies.trusted, *ip))
            .or_else(|| chain.first().copied().map(canonical));
        Some(client)
    };
    // Each header's idea of the client: None when absent, Some(None) when unreadable.
    let forwarded_for = from_chain(lines(headers, "x-forwarded-for").map(|l| parse_chain(&l)));
    let forwarded = from_chain(lines(headers, "forwarded").map(|l| parse_forwarded(&l)));
    let real_ip = lines(headers, "x-real-ip").map(|l| match l.as_slice() {
        [one] => one.trim().parse::<IpAddr>().ok().map(canonical),
        _ => None,
    });
    let named = match proxies.header {
        ClientHeader::XForwardedFor => forwarded_for,
        ClientHeader::XRealIp => real_ip,
        ClientHeader::Forwarded => forwarded,
    };
    let claims: Vec<Option<IpAddr>> = [forwarded_for, real_ip, forwarded]
        .into_iter()
        .flatten()
        .collect();
    let client = match named {
        Some(Some(ip)) => ip,
        // The proxy named no client: the proxy itself is the client.
        None if claims.is_empty() => return peer,
        _ => {
            tracing::warn!(%peer, "forwarding headers cannot be read; the client's address is unknown");
            return UNKNOWN;
        }
    };
    if claims.iter().any(|c| *c != Some(client)) {
        tracing::warn!(%peer, %client, ?claims, "forwarding headers disagree about the client; its address is unknown");
        return UNKNOWN;
    }
    client
}

/// Every line of a header (HAProxy may add its own line after a client's), or None.
fn lines(headers: &HeaderMap, name: &str) -> Option<Vec<String>> {
    let all: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().map(str::to_string).unwrap_or_default())
        .collect();
    (!all.is_empty()).then_some(all)
}

/// `X-Forwarded-For` lines joined; None when any entry is not an address.
fn parse_chain(lines: &[String]) -> Option<Vec<IpAddr>> {
    lines
        .iter()
        .flat_map(|l| l.split(','))
        .map(|s| s.trim().parse::<IpAddr>().ok())
        .collect()
}

/// RFC 7239 `for=` values of all elements of all lines; None when one is not an address
/// (`unknown`, an obfuscated `_name`).
fn parse_forwarded(lines: &[String]) -> Option<Vec<IpAddr>> {
    let mut out = Vec::new();
    for element in lines.iter().flat_map(|l| l.split(',')) {
        for pair in element.split(';') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            if !key.trim().eq_ignore_ascii_case("for") {
                continue;
            }
            let value = value.trim().trim_matches('"');
            // "[2001:db8::1]:4711", "192.0.2.60:8080", "192.0.2.60"
            let host = if let Some(rest) = value.strip_prefix('[') {
                rest.split(']').next().unwrap_or("")
            } else {
                value.split(':').next().unwrap_or("")
            };
            out.push(host.parse::<IpAddr>().ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn allow_lists() {
        let list = parse_list(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        assert!(allows(&list, ip("127.0.0.1")));
        assert!(!allows(&list, ip("127.0.0.2")));
        assert!(allows(&list, ip("10.200.3.4")));
        assert!(allows(&list, ip("::ffff:10.0.0.1")));
        assert!(parse_net("not an ip").is_err());
        assert_eq!(parse_net("10.1.2.3/24").unwrap().to_string(), "10.1.2.0/24");
    }

    fn proxies(header: ClientHeader) -> Proxies {
        Proxies {
            trusted: parse_list(&["10.0.0.0/8".into()]).unwrap(),
            header,
        }
    }

    fn with(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn headers_count_only_from_trusted_proxies() {
        let headers = with(&[("x-forwarded-for", "203.0.113.9, 10.0.0.2")]);
        let xff = proxies(ClientHeader::XForwardedFor);
        assert_eq!(client_ip(ip("192.0.2.1"), &headers, &xff), ip("192.0.2.1"));
        // One hop, and two hops through trusted proxies.
        assert_eq!(client_ip(ip("10.0.0.1"), &headers, &xff), ip("203.0.113.9"));
        // No forwarding header: the proxy is the client.
        assert_eq!(
            client_ip(ip("10.0.0.1"), &HeaderMap::new(), &xff),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_spoofed_first_line_does_not_win() {
        // HAProxy appends its own line after the client's forged one.
        let headers = with(&[
            ("x-forwarded-for", "127.0.0.1"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        let xff = proxies(ClientHeader::XForwardedFor);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers, &xff),
            ip("198.51.100.7")
        );
        // nginx: the forged X-Forwarded-For and the proxy's X-Real-IP disagree: unknown.
        let headers = with(&[
            ("x-forwarded-for", "127.0.0.1"),
            ("x-real-ip", "198.51.100.7"),
        ]);
        let real = proxies(ClientHeader::XRealIp);
        assert_eq!(client_ip(ip("10.0.0.1"), &headers, &real), UNKNOWN);
        assert_eq!(client_ip(ip("10.0.0.1"), &headers, &xff), UNKNOWN);
        assert!(!allows(
            &parse_list(&["0.0.0.0/0".into(), "::/0".into()]).unwrap(),
            UNKNOWN
        ));
        // Agreeing headers name the client.
        let headers = with(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-real-ip", "198.51.100.7"),
        ]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers, &real),
            ip("198.51.100.7")
        );
        // Two X-Real-IP lines, or an unreadable entry: unknown.
        let headers = with(&[("x-real-ip", "198.51.100.7"), ("x-real-ip", "127.0.0.1")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &headers, &real), UNKNOWN);
        let headers = with(&[("x-forwarded-for", "127.0.0.1, garbage")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &headers, &xff), UNKNOWN);
    }

    #[test]
    fn forwarded_names_the_client() {
        let headers = with(&[(
            "forwarded",
            "for=192.0.2.60;proto=http, for=\"[2001:db8::1]:4711\", for=10.0.0.3",
        )]);
        let fwd = proxies(ClientHeader::Forwarded);
        assert_eq!(client_ip(ip("10.0.0.1"), &headers, &fwd), ip("2001:db8::1"));
        let headers = with(&[("forwarded", "for=unknown")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &headers, &fwd), UNKNOWN);
        assert_eq!(
            "X-Real-IP".parse::<ClientHeader>(),
            Ok(ClientHeader::XRealIp)
        );
        assert!("via".parse::<ClientHeader>().is_err());
    }
}
