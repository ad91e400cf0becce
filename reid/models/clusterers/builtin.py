"""Built-in clusterers."""

from reid.models.clusterers.base import (AgglomerativeClusterer, DBSCANClusterer, HDBSCANClusterer, KnnGraphClusterer,
                                  OPTICSClusterer)
from reid.hookspecs import hookimpl


@hookimpl
def register_clusterers(register):
    register("hdbscan", HDBSCANClusterer, description="HDBSCAN: variable density, finds the number of clusters")
    register("dbscan", DBSCANClusterer, description="DBSCAN with a fixed eps (default 0.5)")
    register("optics", OPTICSClusterer, description="OPTICS: DBSCAN over a range of eps")
    register("agglomerative", AgglomerativeClusterer, description="average-linkage cosine, cut at distance 0.5")
    register("knn_graph", KnnGraphClusterer,
             description="10-nearest-neighbour graph (faiss) cut at cosine 0.8: for 100,000 faces and more")
