"""Writes the GraphML files of this folder with NetworkX's two writers.

Run with a Python that has networkx and lxml:  python3 generate.py
The graphs are shaped like LightRAG's (entities and relations with
descriptions, source ids joined by <SEP>, weights, timestamps) and hold the
cases a byte-for-byte writer must get right: ids with quotes, tabs, newlines,
ampersands and non-ASCII text, empty strings, booleans, integers and floats
under one name, nodes whose data are in another order, a node without data,
a self loop, graph-level data, and a graph read back and written again.
"""
import os
import random

import networkx as nx

HERE = os.path.dirname(os.path.abspath(__file__))
WORDS = "alpha beta gamma delta river mountain city bank ledger archive vault graph".split()


def text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def build(directed, seed):
    rng = random.Random(seed)
    g = nx.DiGraph() if directed else nx.Graph()
    names = ['"ACME & Sons"', "Zürich", "東京", "line\nbreak", "tab\there", "<tag>", "O'Brien", "plain"]
    names += ["ENTITY %d" % i for i in range(40)]
    for i, name in enumerate(names):
        g.add_node(
            name,
            entity_id=name,
            entity_type=rng.choice(["PERSON", "ORGANIZATION", "GEO", "EVENT"]),
            description=text(rng, 12) + ("\nsecond line" if i % 5 == 0 else ""),
            source_id="<SEP>".join("chunk-%032x" % rng.getrandbits(128) for _ in range(1 + i % 3)),
            file_path="docs/file %d.txt" % (i % 4),
            created_at=1733500000 + i,
        )
    g.add_node("reordered", description="data in another order", entity_id="reordered", created_at=1)
    g.add_node("bare")
    g.nodes["plain"]["empty"] = ""
    g.nodes["plain"]["flag"] = True
    g.nodes["plain"]["score"] = 1e-05
    for _ in range(120):
        a, b = rng.sample(names, 2)
        g.add_edge(
            a, b,
            weight=rng.choice([1.0, 2.5, 0.1 + rng.random(), 7.0]),
            description=text(rng, 8),
            keywords=",".join(rng.sample(WORDS, 3)),
            source_id="chunk-%032x" % rng.getrandbits(128),
            file_path="docs/file.txt",
            created_at=1733600000,
        )
    g.add_edge("bare", "reordered", weight=3)
    g.add_edge("plain", "plain", description="self loop")
    g.graph["name"] = "fixture"
    return g


def write(g, name):
    nx.write_graphml_lxml(g, os.path.join(HERE, name + ".lxml.graphml"))
    nx.write_graphml_xml(g, os.path.join(HERE, name + ".etree.graphml"))


for directed in (False, True):
    kind = "directed" if directed else "undirected"
    g = build(directed, 7 if directed else 3)
    write(g, kind)
    # LightRAG reads the file back, adds entities and relations, and writes it
    # again: the adjacency order of a graph read from a file is the file's.
    back = nx.read_graphml(os.path.join(HERE, kind + ".lxml.graphml"))
    back.add_node("NEW ENTITY", entity_id="NEW ENTITY", description="added later")
    back.add_edge("NEW ENTITY", "ENTITY 3", weight=1.0, description="later")
    back.add_edge("ENTITY 7", "NEW ENTITY", weight=2.0, description="later")
    write(back, kind + "-reread")
write(nx.Graph(), "empty")
