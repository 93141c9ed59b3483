package dev.courier;

/**
 * A payload could not be encoded or decoded. Never retriable: the same bytes fail the same way,
 * so a delivery whose payload cannot be decoded goes to the dead-letter destination with this
 * error as the reason.
 */
public class CodecException extends CourierException {

    public CodecException(String message, Throwable cause) {
        super(message, cause);
    }
}
