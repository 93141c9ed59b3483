package dev.courier;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Immutable, ordered string headers of a {@link Message}. Names are case-sensitive and unique; a
 * later {@code with(name, value)} replaces an earlier value. Thread-safe.
 */
public final class Headers {

    private static final Headers EMPTY = new Headers(Map.of());

    private final Map<String, String> values;

    private Headers(Map<String, String> values) {
        this.values = values;
    }

    public static Headers empty() {
        return EMPTY;
    }

    /** Headers holding a copy of {@code map}; null names or values are refused. */
    public static Headers of(Map<String, String> map) {
        if (map.isEmpty()) {
            return EMPTY;
        }
        LinkedHashMap<String, String> copy = new LinkedHashMap<>(map.size() * 2);
        map.forEach((k, v) -> copy.put(checkName(k), Objects.requireNonNull(v, () -> "header '" + k + "' has a null value")));
        return new Headers(Collections.unmodifiableMap(copy));
    }

    public static Headers of(String name, String value) {
        checkName(name);
        return of(Map.of(name, Objects.requireNonNull(value, () -> "header '" + name + "' has a null value")));
    }

    /** Value of {@code name}, or {@code null} when absent. */
    public String get(String name) {
        return values.get(name);
    }

    public Optional<String> find(String name) {
        return Optional.ofNullable(values.get(name));
    }

    public boolean contains(String name) {
        return values.containsKey(name);
    }

    /** A copy with {@code name} set to {@code value}. */
    public Headers with(String name, String value) {
        LinkedHashMap<String, String> copy = new LinkedHashMap<>(values);
        copy.put(checkName(name), Objects.requireNonNull(value, () -> "header '" + name + "' has a null value"));
        return new Headers(Collections.unmodifiableMap(copy));
    }

    /** A copy with every entry of {@code more} set, replacing equal names. */
    public Headers withAll(Map<String, String> more) {
        if (more.isEmpty()) {
            return this;
        }
        LinkedHashMap<String, String> copy = new LinkedHashMap<>(values);
        more.forEach((k, v) -> copy.put(checkName(k), Objects.requireNonNull(v, () -> "header '" + k + "' has a null value")));
        return new Headers(Collections.unmodifiableMap(copy));
    }

    /** A copy without {@code name}. */
    public Headers without(String name) {
        if (!values.containsKey(name)) {
            return this;
        }
        LinkedHashMap<String, String> copy = new LinkedHashMap<>(values);
        copy.remove(name);
        return copy.isEmpty() ? EMPTY : new Headers(Collections.unmodifiableMap(copy));
    }

    /** An unmodifiable view, in insertion order. */
    public Map<String, String> asMap() {
        return values;
    }

    public int size() {
        return values.size();
    }

    public boolean isEmpty() {
        return values.isEmpty();
    }

    private static String checkName(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("header name must be a non-empty string");
        }
        return name;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Headers h && h.values.equals(values);
    }

    @Override
    public int hashCode() {
        return values.hashCode();
    }

    @Override
    public String toString() {
        return values.toString();
    }
}
