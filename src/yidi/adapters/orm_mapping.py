"""医保目录对照: an institution's own item codes mapped to the catalog codes (imported by `yidi import mapping`)."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from yidi.adapters.orm import Base


class ItemMappingRow(Base):
    __tablename__ = "item_mappings"
    fixmedins_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    medins_list_codg: Mapped[str] = mapped_column(String(40), primary_key=True)  # the hospital's own code
    med_list_codg: Mapped[str] = mapped_column(String(40))  # the catalog code it is settled as
    name: Mapped[str] = mapped_column(String(100), default="")
