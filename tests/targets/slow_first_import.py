"""A module whose first import takes a while, like one that loads a big table or model."""
import time

time.sleep(0.15)
TABLE = [i * i for i in range(10000)]
