package dev.courier.testkit;

import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;

import java.time.Duration;
import java.util.Map;

/**
 * The only class of the testkit that touches Testcontainers, an optional dependency. Nothing
 * loads it before {@link BrokerLocator} has checked that Testcontainers is on the classpath.
 */
final class ContainerBroker {

    private ContainerBroker() {
    }

    static boolean dockerAvailable() {
        return DockerClientFactory.instance().isDockerAvailable();
    }

    static BrokerFixture start(String broker, BrokerLocator.ContainerSpec spec, Map<String, String> config) {
        GenericContainer<?> container = new GenericContainer<>(DockerImageName.parse(spec.image()))
                .withExposedPorts(spec.port())
                .withEnv(spec.env());
        if (!spec.command().isEmpty()) {
            container.withCommand(spec.command().toArray(String[]::new));
        }
        container.waitingFor((spec.readyLogRegex() != null ? Wait.forLogMessage(spec.readyLogRegex(), 1) : Wait.forListeningPort())
                .withStartupTimeout(Duration.ofMinutes(2)));
        container.start();
        String url = spec.url(container.getHost(), container.getMappedPort(spec.port()));
        return new BrokerLocator.Located(broker + " (Testcontainers " + spec.image() + ")", url, config, container::stop);
    }
}
