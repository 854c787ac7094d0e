import org.codelibs.opensearch.runner.OpenSearchRunner;

/**
 * One OpenSearch 2.19 node for the local stack, started in-process by codelibs' runner (the official
 * distribution is not on Maven Central). The runner's own main cannot pin the bind address or the
 * discovery type, hence this launcher.
 *
 * <p>Usage: SingleNodeOpenSearch BASE_PATH HOST HTTP_PORT
 */
public final class SingleNodeOpenSearch {
  private SingleNodeOpenSearch() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: SingleNodeOpenSearch BASE_PATH HOST HTTP_PORT");
      System.exit(2);
    }
    final String basePath = args[0];
    final String host = args[1];
    final int httpPort = Integer.parseInt(args[2]);

    final OpenSearchRunner runner = new OpenSearchRunner();
    // Without this the runner probes for a free port and would silently serve on another one.
    runner.setMaxHttpPort(-1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        runner.close();
      } catch (Exception e) {
        e.printStackTrace();
      }
    }, "sluice-opensearch-shutdown"));

    runner.onBuild((index, settings) -> {
      settings.put("network.host", host);
      settings.put("http.port", String.valueOf(httpPort));
      settings.put("discovery.type", "single-node");
      settings.putList("node.roles", "cluster_manager", "data", "ingest");
      // A nearly full developer disk must not flip indices to read-only mid-test.
      settings.put("cluster.routing.allocation.disk.threshold_enabled", false);
      settings.put("action.auto_create_index", true);
    });
    runner.build(OpenSearchRunner.newConfigs()
        .basePath(basePath)
        .numOfNode(1)
        .baseHttpPort(httpPort - 1)
        .clusterName("sluice")
        .printOnFailure());

    while (!runner.isClosed()) {
      Thread.sleep(5000);
    }
  }
}
