"""Writes the GraphML files of this folder with NetworkX's two writers.

Run with a Python that has networkx and lxml:  python3 generate.py
Texts hold carriage returns (alone and before line feeds), which ElementTree
writes raw and lxml as &#13;: XML readers turn raw ones into line feeds, so a
graph read from such a file cannot give its bytes back by itself. Beside them:
tabs, a DEL, a line separator, an emoji, the five escaped characters, white
space at both ends, an empty text, "]]>", a no-break space and -0.0.
"""
import os

import networkx as nx

HERE = os.path.dirname(os.path.abspath(__file__))

TEXTS = ["crlf\r\nline", "cr\ronly", "tab\tin", "del\x7fchar", "ls\u2028sep", "emoji \U0001F600 ok",
         "amp & lt < gt > quot \" apos '", "  lead and trail  ", "", "]]> cdata end", "nbsp\u00a0x", "neg -0.0"]

for name, directed in (("undirected", False), ("directed", True)):
    g = nx.DiGraph() if directed else nx.Graph()
    for i, t in enumerate(TEXTS):
        g.add_node("n%d %s" % (i, t.strip()), entity_id=t, description=t, weight=float(i) / 3, neg=-0.0, flag=(i % 2 == 0))
    ids = list(g.nodes)
    for i in range(len(ids) - 1):
        g.add_edge(ids[i + 1], ids[i], description=TEXTS[i], weight=i * 0.1, keywords=TEXTS[-i])
    g.add_edge(ids[0], ids[0], description="self\r\n")
    nx.write_graphml_lxml(g, os.path.join(HERE, name + ".lxml.graphml"))
    nx.write_graphml_xml(g, os.path.join(HERE, name + ".etree.graphml"))
