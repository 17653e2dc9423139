"""Spark SQL (and Hive) through HiveServer2: a warehouse family, read with Airflow's own hook.

Spark's Thrift server (``HiveThriftServer2``) and Hive both speak the HiveServer2 protocol; a
connection of type ``hiveserver2`` is read as Spark SQL, or as Hive with ``extra.flavor`` ``hive``
(the SQL the extract needs is the same in both). Never a target: tables there are written by the
warehouse's own jobs, not by a swap.
"""

from airflow_provider_tagoffline.contract.family import Family
from airflow_provider_tagoffline.dialects.spark.dialect import SparkDialect

FAMILY = Family(
    name="spark", kinds=("spark", "hive"), conn_types=("hiveserver2",),
    dialect=SparkDialect, package=__name__,
    warehouse="warehouse:SparkReader",
    extra="hive", needs=("airflow.providers.apache.hive.hooks.hive",),
)
