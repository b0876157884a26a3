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
    list.iter().any(|net| net.contains(&ip))
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) count as their IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The address the request comes from.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !allows(trusted_proxies, peer) {
        return peer;
    }
    if let Some(forwarded) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        let chain: Vec<IpAddr> = forwarded
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        if let Some(ip) = chain
            .iter()
            .rev()
            .copied()
            .map(canonical)
            .find(|ip| !allows(trusted_proxies, *ip))
        {
            return ip;
        }
        if let Some(first) = chain.first() {
            return canonical(*first);
        }
    }
    if let Some(real) = headers
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok())
    {
        return canonical(real);
    }
    peer
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

    #[test]
    fn headers_count_only_from_trusted_proxies() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.2".parse().unwrap());
        headers.insert("x-real-ip", "198.51.100.1".parse().unwrap());
        let trusted = parse_list(&["10.0.0.0/8".into()]).unwrap();
        assert_eq!(
            client_ip(ip("192.0.2.1"), &headers, &trusted),
            ip("192.0.2.1")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers, &trusted),
            ip("203.0.113.9")
        );
        headers.remove("x-forwarded-for");
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers, &trusted),
            ip("198.51.100.1")
        );
    }
}
