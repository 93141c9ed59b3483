package dev.courier.cli;

import dev.courier.ConfigurationException;
import dev.courier.CourierConfig;
import dev.courier.StartPosition;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Locale;

/** picocli converters for durations and start positions; a bad value is a usage error naming what is allowed. */
final class Converters {

    private Converters() {
    }

    /** {@code 500ms}, {@code 30s}, {@code 5m}, {@code 1h}, ISO-8601 ({@code PT30S}) or plain milliseconds. */
    static final class DurationConverter implements ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            try {
                Duration d = CourierConfig.builder().withoutEnvironment().set("duration", value).build().duration("duration", null);
                if (d == null) {
                    throw new TypeConversionException("'" + value + "' is empty; give a duration such as 500ms, 30s, 5m or PT1M");
                }
                if (d.isZero() || d.isNegative()) {
                    // every --timeout is a wait: none of them can be zero
                    throw new TypeConversionException("'" + value + "' is not more than zero; give a duration such as 500ms, 30s or 5m");
                }
                return d;
            } catch (ConfigurationException e) {
                throw new TypeConversionException("'" + value + "' is not a duration; use e.g. 500ms, 30s, 5m, 1h or PT1M");
            }
        }
    }

    /** {@code 1.5s}, {@code 500ms}, {@code 2m}: a duration as people write it. */
    static String format(Duration d) {
        if (d.toMillis() < 1000) {
            return d.toMillis() + "ms";
        }
        if (d.toMillis() % 60_000 == 0) {
            return d.toMinutes() + "m";
        }
        return java.math.BigDecimal.valueOf(d.toMillis(), 3).stripTrailingZeros().toPlainString() + "s";
    }

    /** {@code earliest}, {@code latest}, or an ISO-8601 time such as {@code 2026-11-23T10:00:00Z}. */
    static final class StartConverter implements ITypeConverter<StartPosition> {
        @Override
        public StartPosition convert(String value) {
            String v = value.trim().toLowerCase(Locale.ROOT);
            if (v.equals("earliest")) {
                return StartPosition.earliest();
            }
            if (v.equals("latest")) {
                return StartPosition.latest();
            }
            try {
                return StartPosition.at(Instant.parse(value.trim()));
            } catch (DateTimeParseException e) {
                try {
                    return StartPosition.at(OffsetDateTime.parse(value.trim()).toInstant());
                } catch (DateTimeParseException e2) {
                    throw new TypeConversionException("'" + value
                            + "' is not a start position; use earliest, latest or an ISO-8601 time such as 2026-11-23T10:00:00Z");
                }
            }
        }
    }
}
