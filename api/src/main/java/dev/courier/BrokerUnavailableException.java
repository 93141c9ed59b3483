package dev.courier;

/**
 * The broker could not be reached or refused the connection (wrong address, broker down,
 * credentials rejected). The message names the URL with its password masked. Retriable: the
 * broker may come back.
 */
public class BrokerUnavailableException extends CourierException {

    public BrokerUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }

    @Override
    public boolean isRetriable() {
        return true;
    }
}
