package dev.courier;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The one place where topic and group names are validated, so every binding accepts the same
 * names. A name is 1 to 200 characters of letters, digits, {@code . _ -}, must not start or end
 * with a dot and must not contain {@code ..}: this set maps safely onto a Kafka topic, an AMQP
 * exchange/queue name and a NATS subject token sequence.
 */
public final class Destinations {

    /** Longest accepted name (Kafka's limit is 249; the suffix {@code .<group>.dlq} needs room). */
    public static final int MAX_LENGTH = 200;

    private static final Pattern VALID = Pattern.compile("[A-Za-z0-9_\\-]+(\\.[A-Za-z0-9_\\-]+)*");
    /** Names already found valid: every message is checked, and applications use few topics. */
    private static final int KNOWN_LIMIT = 10_000;
    private static final Set<String> KNOWN_VALID = ConcurrentHashMap.newKeySet();
    /** The name found valid last; compared by identity. A plain field: a stale read only means a lookup. */
    private static String lastValid;

    private Destinations() {
    }

    /** Returns {@code topic} if valid, else throws {@link ConfigurationException} saying why. */
    public static String checkTopic(String topic) {
        return check("topic", topic);
    }

    /** Returns {@code group} if valid, else throws {@link ConfigurationException} saying why. */
    public static String checkGroup(String group) {
        return check("group", group);
    }

    /** The default dead-letter destination of a subscription: {@code <topic>.<group>.dlq} or {@code <topic>.dlq}. */
    public static String deadLetterTopic(String topic, String group) {
        return group == null ? topic + ".dlq" : topic + "." + group + ".dlq";
    }

    private static String check(String what, String name) {
        // the same string instance as last time (a publishing loop's topic): no hashing, no lookup
        if (name == lastValid && name != null) {
            return name;
        }
        if (name != null && KNOWN_VALID.contains(name)) {
            lastValid = name;
            return name;
        }
        if (name == null || name.isEmpty()) {
            throw new ConfigurationException(what + " name must not be empty");
        }
        if (name.length() > MAX_LENGTH) {
            throw new ConfigurationException(what + " name '" + name.substring(0, 40) + "...' is " + name.length()
                    + " characters; the limit is " + MAX_LENGTH);
        }
        if (!VALID.matcher(name).matches()) {
            throw new ConfigurationException(what + " name '" + name + "' is invalid: use letters, digits, '_', '-' "
                    + "and single dots between segments (e.g. 'orders.created'); no spaces, wildcards or leading/trailing dots");
        }
        if (KNOWN_VALID.size() < KNOWN_LIMIT) {
            KNOWN_VALID.add(name);
        }
        lastValid = name;
        return name;
    }
}
