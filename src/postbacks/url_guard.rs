//! Postback URLs may reach only public addresses (BEHAVIOUR §6): checked when
//! saved, and again on the very address connected to, through a resolver that
//! drops non-public addresses (no DNS-rebinding gap).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use url::{Host, Url};

fn v4_is_public(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

fn v6_is_public(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_is_public(v4);
    }
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    // 6to4 (2002::/16) carries an IPv4 address in bits 16..48: judged by it.
    if s[0] == 0x2002 {
        return v4_is_public(v4(s[1], s[2]));
    }
    // Teredo (2001::/32) carries the server's IPv4 address and the client's
    // (inverted): both must be public.
    if s[0] == 0x2001 && s[1] == 0 {
        return v4_is_public(v4(s[2], s[3])) && v4_is_public(v4(!s[6], !s[7]));
    }
    // NAT64 (64:ff9b::/96) and IPv4-compatible (::a.b.c.d) carry an IPv4 address.
    if (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0]) || s[..6] == [0, 0, 0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return v4_is_public(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated, still routed privately)
        || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
}

/// Whether `ip` is an ordinary public internet address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_is_public(v4),
        IpAddr::V6(v6) => v6_is_public(v6),
    }
}

/// Checks a postback URL as saved: http(s), a host, and — when the host is
/// an address or resolves now — only public addresses.
pub async fn check(raw: &str, allow_private: bool) -> Result<Url, UrlProblem> {
    let url = Url::parse(raw.trim()).map_err(|_| UrlProblem::Invalid("not a valid URL"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(UrlProblem::Invalid("only http and https URLs are accepted"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlProblem::Invalid(
            "credentials in the URL are not accepted",
        ));
    }
    if raw.len() > 2048 {
        return Err(UrlProblem::Invalid(
            "the URL is longer than 2048 characters",
        ));
    }
    let host = url
        .host()
        .ok_or(UrlProblem::Invalid("the URL has no host"))?
        .to_owned();
    if allow_private {
        return Ok(url);
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<IpAddr> = match host {
        Host::Ipv4(ip) => vec![IpAddr::V4(ip)],
        Host::Ipv6(ip) => vec![IpAddr::V6(ip)],
        Host::Domain(name) => {
            let lower = name.to_ascii_lowercase();
            if lower == "localhost"
                || lower.ends_with(".localhost")
                || lower.ends_with(".local")
                || lower.ends_with(".internal")
            {
                return Err(UrlProblem::NotPublic);
            }
            let found = tokio::net::lookup_host((lower.as_str(), port)).await;
            match found {
                Ok(found) => found.map(|a: SocketAddr| a.ip()).collect(),
                // Unresolvable now: allowed at save time; every send is checked again.
                Err(_) => vec![],
            }
        }
    };
    if addrs.iter().any(|ip| !is_public(*ip)) {
        return Err(UrlProblem::NotPublic);
    }
    Ok(url)
}

/// Why a URL was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum UrlProblem {
    /// Malformed, not http(s), or carrying credentials.
    Invalid(&'static str),
    /// Loopback, private, link-local, CGNAT or otherwise not public.
    NotPublic,
}

impl std::fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UrlProblem::Invalid(why) => f.write_str(why),
            UrlProblem::NotPublic => f.write_str(
                "the host is a loopback, private, link-local or otherwise non-public address",
            ),
        }
    }
}

/// The resolver the delivery client uses: it hands reqwest only public
/// addresses, so what is connected to is what was checked.
pub struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// At send time: a URL whose host is an IP literal bypasses the resolver, so it is checked here.
pub fn literal_host_allowed(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => is_public(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => is_public(IpAddr::V6(ip)),
        Some(Host::Domain(_)) => true,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn non_public_addresses_are_refused_in_every_spelling() {
        for bad in [
            "http://127.0.0.1/x",
            "http://localhost:8080/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://017700000001/",
            "http://10.1.2.3/",
            "http://172.16.0.9/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::1]/",
            "http://[2002:a00:1::]/",
            "http://[2002:c0a8:101::1]/",
            "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", // client 127.0.0.1
            "http://[2001:0:a00:1:8000:63bf:3fff:fdd2]/",     // server 10.0.0.1
            "http://[fec0::1]/",
            "http://[fed0::1]/",
            "http://192.88.99.1/",
            "ftp://example.com/",
            "file:///etc/passwd",
            "http://user:pw@example.com/",
            "not a url",
        ] {
            assert!(check(bad, false).await.is_err(), "{bad} was accepted");
        }
        assert!(check("https://93.184.215.14/hook", false).await.is_ok());
        assert!(check("http://[2606:4700::1111]/hook", false).await.is_ok());
        // 6to4 of a public address is judged by that address
        assert!(check("http://[2002:5db8:d70e::1]/hook", false)
            .await
            .is_ok());
        assert!(check("http://127.0.0.1:9000/x", true).await.is_ok());
        assert!(check("ftp://127.0.0.1/", true).await.is_err());
    }
}
