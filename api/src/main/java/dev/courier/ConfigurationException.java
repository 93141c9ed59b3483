package dev.courier;

/**
 * The configuration is wrong or incomplete: an unknown URL scheme, a missing binding on the
 * classpath, a value out of range, an invalid destination name. The message says which key or
 * value, what is allowed, and where to read more.
 */
public class ConfigurationException extends CourierException {

    public ConfigurationException(String message) {
        super(message);
    }

    public ConfigurationException(String message, Throwable cause) {
        super(message, cause);
    }
}
