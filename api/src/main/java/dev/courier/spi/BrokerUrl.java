package dev.courier.spi;

import dev.courier.ConfigurationException;
import dev.courier.CourierConfig;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A parsed broker URL: {@code scheme://[user[:password]@]host[:port][,host[:port]...][/path][?k=v&...]}.
 * Several hosts are allowed (Kafka bootstrap servers, NATS cluster). Immutable.
 *
 * <p>{@link #toString()} masks the password; only {@link #password()} reveals it, so the URL can be
 * logged and put into exception messages safely.
 */
public final class BrokerUrl {

    /** One host and port; port is -1 when the URL gave none. */
    public record HostPort(String host, int port) {
        public int portOr(int defaultPort) {
            return port < 0 ? defaultPort : port;
        }

        /** {@code host:port}, with an IPv6 host in brackets. */
        @Override
        public String toString() {
            String h = host.contains(":") ? "[" + host + "]" : host;
            return port < 0 ? h : h + ":" + port;
        }
    }

    private final String scheme;
    private final String user;
    private final String password;
    private final List<HostPort> hosts;
    private final String path;
    private final Map<String, String> params;

    private BrokerUrl(String scheme, String user, String password, List<HostPort> hosts, String path, Map<String, String> params) {
        this.scheme = scheme;
        this.user = user;
        this.password = password;
        this.hosts = hosts;
        this.path = path;
        this.params = params;
    }

    /** Parses {@code url}; throws {@link ConfigurationException} naming the (masked) URL when malformed. */
    public static BrokerUrl parse(String url) {
        if (url == null || url.isBlank()) {
            throw new ConfigurationException("broker URL is empty; set courier.url, e.g. mem://, kafka://localhost:9092");
        }
        int sep = url.indexOf("://");
        if (sep <= 0) {
            throw new ConfigurationException("'" + dev.courier.CourierConfig.maskUrl(url) + "' is not a broker URL: expected scheme://host:port");
        }
        String scheme = url.substring(0, sep).toLowerCase(Locale.ROOT);
        String rest = url.substring(sep + 3);
        String user = null;
        String password = null;
        int at = userInfoEnd(rest);
        if (at >= 0) {
            String info = rest.substring(0, at);
            rest = rest.substring(at + 1);
            int colon = info.indexOf(':');
            if (colon >= 0) {
                user = decode(url, info.substring(0, colon));
                password = decode(url, info.substring(colon + 1));
            } else {
                user = decode(url, info);
            }
        }
        String query = null;
        int q = rest.indexOf('?');
        if (q >= 0) {
            query = rest.substring(q + 1);
            rest = rest.substring(0, q);
        }
        String path = "";
        int slash = rest.indexOf('/');
        if (slash >= 0) {
            path = decode(url, rest.substring(slash + 1));
            rest = rest.substring(0, slash);
        }
        List<HostPort> hosts = new ArrayList<>();
        if (!rest.isEmpty()) {
            for (String hp : rest.split(",")) {
                hosts.add(parseHost(url, hp.trim()));
            }
        }
        Map<String, String> params = new LinkedHashMap<>();
        if (query != null && !query.isEmpty()) {
            for (String kv : query.split("&")) {
                if (kv.isEmpty()) {
                    continue;
                }
                int eq = kv.indexOf('=');
                params.put(decode(url, eq < 0 ? kv : kv.substring(0, eq)), eq < 0 ? "" : decode(url, kv.substring(eq + 1)));
            }
        }
        return new BrokerUrl(scheme, user, password, Collections.unmodifiableList(hosts), path, Collections.unmodifiableMap(params));
    }

    /**
     * Where the user info of a URL ends: the index in {@code afterScheme} (what follows
     * {@code scheme://}) of the {@code '@'} that ends it, or -1 when there is none. It is the last
     * {@code '@'} before the query, so a password or token may hold a raw {@code '@'}, {@code '/'} or
     * {@code '?'}, while an {@code '@'} inside a query parameter (a JAAS user name, an e-mail address)
     * is not taken for it. A {@code '?'} starts the query only when a parameter follows it
     * ({@code ?name=}, or a bare {@code ?name&}): a password holding such a text must write its
     * {@code '?'} as {@code %3F}. {@link dev.courier.CourierConfig#maskUrl} uses the same rule, so
     * what is parsed as the password is what is masked.
     */
    public static int userInfoEnd(String afterScheme) {
        int queryStart = afterScheme.length();
        for (int q = afterScheme.indexOf('?'); q >= 0; q = afterScheme.indexOf('?', q + 1)) {
            if (startsParameter(afterScheme, q + 1)) {
                queryStart = q;
                break;
            }
        }
        return queryStart == 0 ? -1 : afterScheme.lastIndexOf('@', queryStart - 1);
    }

    /** Whether {@code s} has a parameter name at {@code from} followed by '=' or '&'. */
    private static boolean startsParameter(String s, int from) {
        int i = from;
        while (i < s.length() && isNameChar(s.charAt(i))) {
            i++;
        }
        return i > from && i < s.length() && (s.charAt(i) == '=' || s.charAt(i) == '&');
    }

    private static boolean isNameChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '.' || c == '_' || c == '-' || c == '~' || c == '%';
    }

    private static HostPort parseHost(String url, String hp) {
        if (hp.isEmpty()) {
            throw new ConfigurationException("'" + dev.courier.CourierConfig.maskUrl(url) + "' has an empty host in its host list");
        }
        String host = hp;
        int port = -1;
        int colon = hp.lastIndexOf(':');
        if (hp.startsWith("[")) { // IPv6 literal
            int close = hp.indexOf(']');
            if (close < 2 || (close + 1 < hp.length() && hp.charAt(close + 1) != ':')) {
                throw new ConfigurationException("'" + dev.courier.CourierConfig.maskUrl(url) + "' has a malformed IPv6 host '"
                        + hp + "'; write it as [address] or [address]:port");
            }
            host = hp.substring(1, close);
            if (close + 1 < hp.length()) {
                port = parsePort(url, hp.substring(close + 2));
            }
        } else if (colon >= 0) {
            host = hp.substring(0, colon);
            port = parsePort(url, hp.substring(colon + 1));
        }
        return new HostPort(host, port);
    }

    private static int parsePort(String url, String p) {
        try {
            int port = Integer.parseInt(p);
            if (port < 1 || port > 65535) {
                throw new NumberFormatException();
            }
            return port;
        } catch (NumberFormatException e) {
            if (!p.matches("[+-]?[0-9]*")) {
                // not a number: a URL typed wrong may have put a password there, so neither the URL nor the port is quoted
                throw new ConfigurationException("the broker URL of scheme '" + url.substring(0, url.indexOf("://"))
                        + "' has a port that is not a number; ports are 1 to 65535, and a password goes before an '@' "
                        + "(user:password@host:port, a '%' in it written as %25)");
            }
            throw new ConfigurationException("'" + dev.courier.CourierConfig.maskUrl(url) + "' has an invalid port '" + p
                    + "'; ports are 1 to 65535");
        }
    }

    /**
     * Percent-decodes one part of {@code url}. A '+' stays a '+' (it is form encoding, not URL
     * encoding, that turns it into a space; passwords and tokens often contain it).
     */
    private static String decode(String url, String s) {
        try {
            return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            // no cause: its message quotes the characters after the '%', which may be part of the password
            throw new ConfigurationException("'" + dev.courier.CourierConfig.maskUrl(url)
                    + "' has a malformed %-escape; write a literal % as %25");
        }
    }

    /** Lower-case scheme, e.g. {@code kafka}. */
    public String scheme() {
        return scheme;
    }

    /** User name, or {@code null}. */
    public String user() {
        return user;
    }

    /** Password (or token), or {@code null}. Never log it. */
    public String password() {
        return password;
    }

    /** Hosts in URL order; empty for {@code mem://}. */
    public List<HostPort> hosts() {
        return hosts;
    }

    /** The path without its leading slash, URL-decoded (AMQP vhost, in-memory broker name); empty when absent. */
    public String path() {
        return path;
    }

    /** Query parameters in URL order. */
    public Map<String, String> params() {
        return params;
    }

    public String param(String name, String defaultValue) {
        return params.getOrDefault(name, defaultValue);
    }

    /** {@code host1:port1,host2:port2} with {@code defaultPort} filled in. */
    public String hostList(int defaultPort) {
        StringBuilder sb = new StringBuilder();
        for (HostPort hp : hosts) {
            if (sb.length() > 0) {
                sb.append(',');
            }
            sb.append(hp.host().contains(":") ? "[" + hp.host() + "]" : hp.host()).append(':').append(hp.portOr(defaultPort));
        }
        return sb.toString();
    }

    /** The URL with the password masked. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(scheme).append("://");
        if (user != null) {
            // a lone user part is a token for NATS (nats://token@host), so it is a secret there
            boolean tokenScheme = scheme.equals("nats") || scheme.equals("tls");
            sb.append(password == null && tokenScheme ? "****" : user);
            if (password != null) {
                sb.append(":****");
            }
            sb.append('@');
        } else if (password != null) {
            sb.append("****@");
        }
        for (int i = 0; i < hosts.size(); i++) {
            sb.append(i > 0 ? "," : "").append(hosts.get(i));
        }
        if (!path.isEmpty()) {
            sb.append('/').append(path);
        }
        if (!params.isEmpty()) {
            sb.append('?');
            boolean first = true;
            for (Map.Entry<String, String> e : params.entrySet()) {
                sb.append(first ? "" : "&").append(e.getKey()).append('=')
                        .append(CourierConfig.isSecretName(e.getKey()) ? "****" : e.getValue());
                first = false;
            }
        }
        return sb.toString();
    }
}
