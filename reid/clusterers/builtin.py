"""Built-in clusterers."""

from reid.clusterers.base import AgglomerativeClusterer, DBSCANClusterer, HDBSCANClusterer, OPTICSClusterer
from reid.hookspecs import hookimpl


@hookimpl
def register_clusterers(register):
    register("hdbscan", HDBSCANClusterer, description="HDBSCAN: variable density, finds the number of clusters")
    register("dbscan", DBSCANClusterer, description="DBSCAN with a fixed eps (default 0.5)")
    register("optics", OPTICSClusterer, description="OPTICS: DBSCAN over a range of eps")
    register("agglomerative", AgglomerativeClusterer, description="average-linkage cosine, cut at distance 0.5")
